"""``bricobot teleoperate``: drive a robot with a teleoperator, no recording (Ctrl-C ends, status 130).

Example::

    bricobot teleoperate robot=so101 robot.port=/dev/ttyACM0 teleop=so101_leader teleop.port=/dev/ttyACM1
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.runtime.shutdown import exit_code
from bricobot.runtime.timing import rate_shortfall


@dataclass
class TeleoperateCommandConfig:
    robot: Any = MISSING
    teleop: Any = MISSING
    fps: float = 30.0
    #: Stop after this many seconds; null runs until Ctrl-C.
    duration_s: float | None = None
    #: Print the joint commands a few times per second (off the control thread).
    display: bool = True


def run(cfg: TeleoperateCommandConfig) -> int:
    from bricobot.runtime.teleoperate import run_teleoperate

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress and timing lines

    try:
        result = run_teleoperate(cfg.robot, cfg.teleop, cfg.fps, cfg.duration_s, cfg.display)
    except Exception as exc:
        print(f"bricobot teleoperate: stopped: {exc}", file=sys.stderr)
        return 1
    ended = f"interrupted ({result.signal})" if result.signal else f"ended ({result.reason})"
    print(f"teleoperation {ended}: {result.timing.format()}")
    shortfall = rate_shortfall([result.timing.summary()])
    if shortfall:
        print(shortfall)
    return exit_code("signal" if result.signal else result.reason)


def main(argv: Sequence[str]) -> int:
    return run_command(
        "teleoperate", TeleoperateCommandConfig, run, argv, "Drive a robot with a teleoperator."
    )
