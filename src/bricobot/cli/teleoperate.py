"""``bricobot teleoperate``: drive a robot with a teleoperator, no recording (Ctrl-C ends).

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
    print(result.timing.format())
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "teleoperate", TeleoperateCommandConfig, run, argv, "Drive a robot with a teleoperator."
    )
