"""``bricobot train``: train a policy on a recorded dataset.

Examples::

    bricobot train policy=act_cpu dataset.root=data/pick_cube trainer.steps=3000
    bricobot train policy=act dataset.root=data/pick_cube trainer.device=cuda
    bricobot train policy=act_cpu dataset.root=data/pick_cube resume_from=outputs/train/<run>/checkpoints/last
    bricobot train policy=act_cpu dataset.root=data/pick_cube env=so101_pick_cube trainer.eval_every=1000
    torchrun --nproc_per_node=2 -m bricobot.cli.main train policy=act dataset.root=data/pick_cube
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.training.config import TrainerConfig


@dataclass
class TrainDatasetConfig:
    #: Folder of a recorded dataset (required).
    root: str = ""
    #: Episodes to use (all when empty).
    episodes: list[int] = field(default_factory=list)


@dataclass
class TrainEvalConfig:
    """Periodic evaluation in simulation (needs env=<preset> and trainer.eval_every > 0)."""

    episodes: int = 20
    num_envs: int = 10


@dataclass
class TrainCommandConfig:
    policy: Any = MISSING
    dataset: TrainDatasetConfig = field(default_factory=TrainDatasetConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: Any = None
    eval: TrainEvalConfig = field(default_factory=TrainEvalConfig)
    #: A checkpoint directory (``.../checkpoints/last``) to continue from, exactly.
    resume_from: str | None = None
    output_dir: str = ""


def run(cfg: TrainCommandConfig) -> int:
    from pathlib import Path

    from bricobot.training.dataset_source import load_episode_data
    from bricobot.training.evaluation import EvalConfig, sim_eval_fn
    from bricobot.training.trainer import train

    if not cfg.dataset.root:
        print("bricobot train: give the dataset folder: dataset.root=<folder>", file=sys.stderr)
        return 2
    data = load_episode_data(
        cfg.dataset.root, cfg.policy.cameras or None, cfg.dataset.episodes or None
    )
    eval_fn = None
    if cfg.env is not None and cfg.trainer.eval_every:
        eval_cfg = EvalConfig(episodes=cfg.eval.episodes, num_envs=cfg.eval.num_envs, videos=0)
        eval_fn = sim_eval_fn(cfg.env, eval_cfg, Path(cfg.output_dir) / "eval")
    result = train(
        cfg.policy, data, cfg.trainer, cfg.output_dir, eval_fn=eval_fn, resume_from=cfg.resume_from
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun, only the first process reports
        return 0
    print(
        f"trained {cfg.policy.type} to step {result.step}: checkpoint {result.last_checkpoint}, "
        f"{result.steps_per_s:.1f} steps/s, {100 * result.data_wait_share:.1f}% waiting for data",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command("train", TrainCommandConfig, run, argv, "Train a policy on a dataset.")
