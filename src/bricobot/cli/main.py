"""``bricobot``: one command line, one thin module per command.

``COMMANDS`` maps a command name to the module that implements it (imported only when run) and a
one-line description for ``bricobot --help``. Each module has ``main(argv) -> int``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from bricobot import __version__

#: command → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("bricobot.cli.demo", "the whole path in simulation, no hardware"),
    "record": ("bricobot.cli.record", "drive a robot with a teleoperator and record a dataset"),
    "teleoperate": ("bricobot.cli.teleoperate", "drive a robot with a teleoperator, no recording"),
    "replay": ("bricobot.cli.replay", "send a recorded episode's actions to a robot"),
    "train": ("bricobot.cli.train", "train a policy on a dataset"),
    "eval": ("bricobot.cli.eval", "evaluate a policy in simulation with a confidence interval"),
    "rollout": ("bricobot.cli.rollout", "run a policy in real time on a robot (real or sim twin)"),
    "calibrate": ("bricobot.cli.calibrate", "guided calibration of an arm's zero pose and ranges"),
    "setup-motors": ("bricobot.cli.setup_motors", "assign ids and baud rates, one motor at a time"),
    "scan": ("bricobot.cli.scan", "list every servo on a port at every baud rate"),
    "find-port": ("bricobot.cli.find_port", "find which serial port an arm is plugged into"),
    "find-cameras": ("bricobot.cli.find_cameras", "list cameras and save a snapshot of each"),
    "doctor": ("bricobot.cli.doctor", "check permissions, rendering, video encoders and GPU"),
    "dataset": ("bricobot.cli.dataset", "dataset tools: info, validate, repair, compact, edit"),
    "virtual-arm": ("bricobot.cli.virtual_arm", "an emulated servo bus on a pseudo-terminal"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        f"bricobot {__version__}: teach low-cost robot arms new skills",
        "",
        "usage: bricobot <command> [key=value ...]     (bricobot <command> --help for its config)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"bricobot: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    # Keep Hydra's full tracebacks for developers only; users get the one-line cause.
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except ModuleNotFoundError as exc:
        if exc.name != COMMANDS[name][0]:
            raise
        print(f"bricobot {name}: not available in this version yet", file=sys.stderr)
        return 2
    try:
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:
        print(f"bricobot {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
