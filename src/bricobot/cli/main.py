"""``bricobot``: one command line, one thin module per command.

``COMMANDS`` maps a command name to the module that implements it (imported only when run) and a
one-line description for ``bricobot --help``. Each module has ``main(argv) -> int``.

Exit codes: 0 done, 1 error, 2 bad command line, 130 interrupted (Ctrl-C, SIGTERM in training).
An error that reaches this dispatcher is printed as one line, ``bricobot <command>: <message>``,
whose message names the file, key or device and the fix; ``--debug`` (before or after the command)
or ``BRICOBOT_DEBUG=1`` also prints the full traceback.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import sys
import traceback
from collections.abc import Sequence

from bricobot import __version__
from bricobot.errors import BricobotError, one_line

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
    "eeprom-undo": (
        "bricobot.cli.eeprom_undo",
        "write back the servo EEPROM values a session changed",
    ),
    "find-port": ("bricobot.cli.find_port", "find which serial port an arm is plugged into"),
    "find-cameras": ("bricobot.cli.find_cameras", "list cameras and save a snapshot of each"),
    "doctor": ("bricobot.cli.doctor", "check permissions, rendering, video encoders and GPU"),
    "dataset": ("bricobot.cli.dataset", "dataset tools: info, validate, repair, compact, edit"),
    "virtual-arm": ("bricobot.cli.virtual_arm", "an emulated servo bus on a pseudo-terminal"),
    "view": ("bricobot.cli.view", "a local web page for a dataset or a training run"),
    "serve-policy": (
        "bricobot.cli.serve_policy",
        "serve a checkpoint's action chunks to a robot on another machine",
    ),
}

#: Error types whose message is written for the user (bricobot raises ValueError and KeyError for
#: bad values and names, OSError for files and ports); others are reported as unexpected.
USER_ERROR_BASES: tuple[type[BaseException], ...] = (
    BricobotError,
    OSError,
    ValueError,
    KeyError,
    ImportError,
)
#: More of them, outside the BricobotError tree ("module:Class"). Looked up only among imported
#: modules: an exception of a class never imported cannot have been raised, and the dispatcher
#: stays fast to import.
USER_ERRORS = (
    "bricobot.datasets.video:VideoDecodeError",
    "bricobot.datasets.video:VideoCodecError",
    "bricobot.datasets.encoder:EncoderError",
    "bricobot.cameras.base:CameraError",
    "bricobot.cameras.rendering:RenderingError",
    "bricobot.runtime.sinks:SinkError",
)
#: Config errors raised while a command runs: a bad command line (exit 2).
COMMAND_LINE_ERRORS = (
    "bricobot.cli.app:CommandLineError",
    "hydra.errors:HydraException",
    "omegaconf.errors:OmegaConfBaseException",
)
#: What to do about an OSError, by errno.
OS_ERROR_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check its permissions, or choose a place you can write to",
    errno.EPERM: "check its permissions, or choose a place you can write to",
    errno.ENOSPC: "free some disk space and run the command again",
    errno.EDQUOT: "free some disk space (you are over quota) and run the command again",
    errno.EEXIST: "something is in the way there: remove it or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder: give a file",
    errno.EROFS: "the disk is read-only: choose another place",
}
NOT_A_SERIAL_PORT = "Inappropriate ioctl for device"
DEBUG_HINT = "rerun with --debug (or BRICOBOT_DEBUG=1) for the traceback"


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
    lines += [
        "",
        "options: --debug (before or after the command, or BRICOBOT_DEBUG=1) prints the full",
        "traceback of an error. Exit codes: 0 done, 1 error, 2 bad command line, 130 interrupted.",
    ]
    return "\n".join(lines)


def _loaded(names: Sequence[str]) -> tuple[type[BaseException], ...]:
    """The classes named ``module:Class`` whose module is already imported."""
    out = []
    for name in names:
        module_name, _, class_name = name.partition(":")
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type) and issubclass(cls, BaseException):
            out.append(cls)
    return tuple(out)


def _worker_original(text: str, exc: BaseException) -> str:
    """The original message of an error re-raised from a DataLoader worker process.

    torch re-raises it with the worker's whole traceback as the message; the user needs its last
    entry, the original message (which names the file)."""
    if "DataLoader worker" not in text or "Original Traceback" not in text:
        return text
    name = re.escape(type(exc).__name__)
    matches = list(re.finditer(rf"^(?:[\w.]+\.)?{name}: ", text, re.MULTILINE))
    if matches:
        return text[matches[-1].end() :].strip()
    return text.strip().splitlines()[-1]


def _os_error_message(exc: OSError) -> str:
    """``<what went wrong>: <file>: <fix>`` for an OSError that carries an errno and a file."""
    if exc.errno is None or exc.filename is None:
        return str(exc)
    where = str(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {exc.filename2}"
    if exc.errno == errno.ENOTTY:
        return (
            f"{where} is not a serial port ({exc.strerror}): run `bricobot find-port` to find "
            "the arm's port"
        )
    fix = OS_ERROR_FIXES.get(exc.errno)
    return f"{exc.strerror}: {where}" + (f": {fix}" if fix else "")


def error_message(exc: BaseException) -> str:
    """One line for the user: the error's own message (unwrapped from DataLoader workers)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        text = (
            f"the Python module {exc.name!r} is not installed: reinstall bricobot with its "
            "dependencies (`pip install bricobot`, or `pip install -e .` in a checkout)"
        )
    elif isinstance(exc, OSError):
        text = _os_error_message(exc)
    elif isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])  # str(KeyError) quotes the message
    else:
        text = str(exc)
    text = _worker_original(text, exc)
    port = getattr(exc, "port", "")
    if NOT_A_SERIAL_PORT in text and port:
        text = f"{port} is not a serial port ({NOT_A_SERIAL_PORT}): run `bricobot find-port`"
    return one_line(text) or type(exc).__name__


def report_error(label: str, exc: Exception, debug: bool) -> int:
    """Print ``exc`` as ``bricobot <label>: <message>`` (after its traceback when ``debug``) and
    return the exit code: 2 for a config error, else 1. Unexpected error types say so."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    message = error_message(exc)
    command_line = _loaded(COMMAND_LINE_ERRORS)
    known = (*USER_ERROR_BASES, *command_line, *_loaded(USER_ERRORS))
    if not isinstance(exc, known) and not debug:
        message = f"unexpected {type(exc).__name__}: {message} ({DEBUG_HINT}, and report it)"
    print(f"bricobot {label}: {message}", file=sys.stderr)
    return 2 if isinstance(exc, command_line) else 1


def split_debug(args: Sequence[str]) -> tuple[list[str], bool]:
    """``args`` without ``--debug``, and whether tracebacks are wanted (``--debug`` anywhere or
    ``BRICOBOT_DEBUG`` set to anything but empty, 0, false or no)."""
    env = os.environ.get("BRICOBOT_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    rest = [a for a in args if a != "--debug"]
    return rest, env or len(rest) != len(args)


def main(argv: Sequence[str] | None = None) -> int:
    args, debug = split_debug(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(
            f"bricobot: unknown command {name!r}; commands: {', '.join(COMMANDS)} "
            "(`bricobot --help` says what each does)",
            file=sys.stderr,
        )
        return 2
    # Keep Hydra's full tracebacks for developers only; users get the one-line cause.
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    label = name
    if name == "dataset" and rest and "=" not in rest[0] and not rest[0].startswith("-"):
        label = f"{name} {rest[0]}"
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:
        print(f"bricobot {label}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name != COMMANDS[name][0]:
            return report_error(label, exc, debug)
        print(f"bricobot {name}: not available in this version yet", file=sys.stderr)
        return 2
    except Exception as exc:
        return report_error(label, exc, debug)


if __name__ == "__main__":
    sys.exit(main())
