"""``bricobot rollout``: run a policy checkpoint in real time on a robot, optionally recording.

The checkpoint's features are checked against the robot's before anything moves. Example::

    bricobot rollout robot=so101 robot.port=/dev/ttyACM0 \
        policy_path=outputs/train/<time>/checkpoints/last \
        num_episodes=2 episode_time_s=20 dataset.root=data/eval_pick

``policy_path`` takes what every command takes: a training run (its ``checkpoints/last``), a step
(``checkpoints/004000``, ``checkpoints/last``) or a ``pretrained_model`` folder.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.shutdown import exit_code
from bricobot.runtime.timing import format_runs, save_timing


@dataclass
class RolloutCommandConfig:
    robot: Any = MISSING
    #: A training run, a checkpoint step or a pretrained_model folder (required).
    policy_path: str = ""
    num_episodes: int = 1
    episode_time_s: float = 30.0
    reset_time_s: float = 5.0
    fps: int = 30
    device: str = "cpu"
    #: Set dataset.root to record the rollouts (dataset.fps follows fps).
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    keyboard: bool = True
    #: A live status line on stderr: episode n/N with its elapsed and remaining time.
    progress: bool = True
    #: config.yaml and loop_timing.json (per-episode stage timing) go here; "" = outputs/rollout/<time>.
    output_dir: str = ""


def run(cfg: RolloutCommandConfig) -> int:
    from bricobot.runtime.rollout import describe_rollout, run_rollout

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress and timing lines

    if not cfg.policy_path:
        print(
            "bricobot rollout: give the checkpoint: policy_path=<training run or checkpoint folder>",
            file=sys.stderr,
        )
        return 2
    try:
        result = run_rollout(
            cfg.robot,
            cfg.policy_path,
            num_episodes=cfg.num_episodes,
            episode_time_s=cfg.episode_time_s,
            reset_time_s=cfg.reset_time_s,
            fps=cfg.fps,
            dataset=cfg.dataset,
            device=cfg.device,
            keyboard=cfg.keyboard,
            progress=cfg.progress,
        )
    except Exception as exc:
        print(f"bricobot rollout: stopped: {exc}", file=sys.stderr)
        return 1
    save_timing(cfg.output_dir, result.timing)
    print(format_runs(result.timing))
    print(describe_rollout(result, cfg.dataset.root))
    return exit_code(result.reason)


def main(argv: Sequence[str]) -> int:
    return run_command(
        "rollout",
        RolloutCommandConfig,
        run,
        argv,
        "Run a policy checkpoint in real time on a robot.",
    )
