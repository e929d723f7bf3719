"""``bricobot replay``: send a recorded episode's actions to a robot.

Example::

    bricobot replay robot=so101 robot.port=/dev/ttyACM0 dataset.root=data/pick dataset.episode=0
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command


@dataclass
class ReplayDatasetConfig:
    root: str = ""
    episode: int = 0


@dataclass
class ReplayCommandConfig:
    robot: Any = MISSING
    dataset: ReplayDatasetConfig = field(default_factory=ReplayDatasetConfig)
    #: Replay rate; null uses the dataset's fps.
    fps: float | None = None


def run(cfg: ReplayCommandConfig) -> int:
    from bricobot.runtime.replay import run_replay

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress and timing lines

    if not cfg.dataset.root:
        print("bricobot replay: dataset.root is required (dataset.root=...)", file=sys.stderr)
        return 2
    try:
        result = run_replay(cfg.robot, cfg.dataset.root, cfg.dataset.episode, cfg.fps)
    except Exception as exc:
        print(f"bricobot replay: stopped: {exc}", file=sys.stderr)
        return 1
    print(f"replayed {result.steps} steps: {result.timing.format()}")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "replay", ReplayCommandConfig, run, argv, "Send a recorded episode's actions to a robot."
    )
