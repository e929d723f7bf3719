"""``bricobot setup-motors``: give each motor of an arm its id and baud rate, one motor at a time.

Example::

    bricobot setup-motors robot=so101 port=/dev/ttyACM0

New motors all answer on id 1; connect one motor alone to the controller board when asked.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from bricobot.cli.app import run_command


@dataclass
class SetupMotorsCommandConfig:
    #: hardware/<robot>/motors.yaml name (so101, koch) or a path to a motors.yaml
    robot: str = "so101"
    port: str = ""
    #: motors to set up, by name; empty: all, gripper first
    motors: list[str] = field(default_factory=list)
    #: ask before each motor; false for scripts (the motor must already be connected alone)
    interactive: bool = True
    #: how long a reply may take (s); raise it on a busy computer or a slow USB adapter
    reply_timeout_s: float = 0.01

    def __post_init__(self) -> None:
        if not self.reply_timeout_s > 0:
            raise ValueError(f"reply_timeout_s must be > 0, got {self.reply_timeout_s}")


def run(cfg: SetupMotorsCommandConfig) -> int:
    from bricobot.motors.errors import MotorBusError
    from bricobot.motors.setup import setup_motor
    from bricobot.motors.spec import load_motors_spec

    if not cfg.port:
        print("bricobot setup-motors: give the port, e.g. port=/dev/ttyACM0", file=sys.stderr)
        return 2
    spec = load_motors_spec(cfg.robot)
    todo = [m for m in reversed(spec.motors) if not cfg.motors or m.name in cfg.motors]
    for m in todo:
        if cfg.interactive:
            input(f"Connect ONLY the '{m.name}' motor ({m.model}) to {cfg.port}, then press Enter.")
        try:
            entry = setup_motor(
                cfg.port, spec.bus, m.model, m.id, spec.baudrate, m.name, cfg.reply_timeout_s
            )
        except MotorBusError as exc:
            print(f"bricobot setup-motors: {exc}", file=sys.stderr)
            return 1
        print(f"'{m.name}': id {entry.id} at {entry.baudrate} baud ({entry.model}), read back OK")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "setup-motors",
        SetupMotorsCommandConfig,
        run,
        argv,
        "Assign ids and baud rates to an arm's motors, one motor at a time.",
    )
