"""``bricobot train``: train a policy on a recorded dataset.

Examples::

    bricobot train policy=act_cpu dataset.root=data/pick_cube trainer.steps=3000
    bricobot train policy=act_cpu dataset.root=data/pick_cube dataset.frame_cache=true
    bricobot train policy=act dataset.root=data/pick_cube trainer.device=cuda
    bricobot train policy=act_cpu dataset.root=data/pick_cube resume_from=outputs/train/<run>
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
from bricobot.training.data import DataConfig


@dataclass
class TrainEvalConfig:
    """Periodic evaluation in simulation (needs env=<preset> and trainer.eval_every > 0)."""

    episodes: int = 20
    num_envs: int = 10


@dataclass
class TrainCommandConfig:
    policy: Any = MISSING
    dataset: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: Any = None
    eval: TrainEvalConfig = field(default_factory=TrainEvalConfig)
    #: A checkpoint to continue from, exactly: the run folder (its last checkpoint), a step folder
    #: (``.../checkpoints/004000``) or ``.../checkpoints/last``.
    resume_from: str | None = None
    output_dir: str = ""


def run(cfg: TrainCommandConfig) -> int:
    from pathlib import Path

    from bricobot.evaluation.sim_eval import EvalConfig, sim_eval_fn
    from bricobot.policies.checkpoint import read_policy_config, resolve_checkpoint
    from bricobot.training.data import open_training_data
    from bricobot.training.trainer import TrainingInterrupted, train

    if not cfg.dataset.root:
        print("bricobot train: give the dataset folder: dataset.root=<folder>", file=sys.stderr)
        return 2
    warn_gpu_preset_on_cpu(cfg)
    policy_config = cfg.policy
    resume_step_dir = None
    if cfg.resume_from:
        pretrained = resolve_checkpoint(cfg.resume_from)
        resume_step_dir = pretrained.parent  # .../checkpoints/<step>
        policy_config = read_policy_config(pretrained)
    data = open_training_data(
        cfg.dataset, policy_config, cfg.trainer.val_fraction, cfg.trainer.seed, cfg.trainer.progress
    )
    eval_fn = None
    if cfg.env is not None and cfg.trainer.eval_every:
        eval_cfg = EvalConfig(episodes=cfg.eval.episodes, num_envs=cfg.eval.num_envs, videos=0)
        eval_fn = sim_eval_fn(cfg.env, eval_cfg, Path(cfg.output_dir) / "eval")
    try:
        result = train(
            data, cfg.trainer, cfg.output_dir, eval_fn=eval_fn, resume_from=resume_step_dir
        )
    except TrainingInterrupted as stop:
        print(
            f"bricobot train: interrupted at step {stop.step}; resume with: bricobot train "
            f"policy=... dataset.root={cfg.dataset.root} resume_from={stop.checkpoint}",
            file=sys.stderr,
        )
        return 130
    if os.environ.get("RANK", "0") != "0":  # under torchrun, only the first process reports
        return 0
    print(
        f"trained {data.config.type} to step {result.step}: checkpoint {result.last_checkpoint}, "
        f"{result.steps_per_s:.1f} steps/s, {100 * result.data_wait_share:.1f}% waiting for data",
        file=sys.stderr,
    )
    return 0


def warn_gpu_preset_on_cpu(cfg: TrainCommandConfig) -> None:
    """A full-size (GPU) preset on a machine without CUDA trains at a fraction of a step per
    second: say so and name the CPU preset."""
    import torch

    full_size = getattr(cfg.policy, "backbone_width", 0) >= 64
    if full_size and cfg.trainer.device in ("auto", "cpu") and not torch.cuda.is_available():
        print(
            f"bricobot train: warning: policy={cfg.policy.type} is the full-size GPU preset and "
            f"no CUDA GPU is visible: expect well under 1 step/s on a CPU. On a CPU use "
            f"policy={cfg.policy.type}_cpu.",
            file=sys.stderr,
        )


def main(argv: Sequence[str]) -> int:
    return run_command("train", TrainCommandConfig, run, argv, "Train a policy on a dataset.")
