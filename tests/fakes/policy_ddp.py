"""A worker for the two-process DDP test: trains a tiny ACT on synthetic data in one process of a
gloo group and writes its per-step losses and final weights (importable, so spawn can pickle it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from bricobot.training.config import TrainerConfig
from bricobot.training.trainer import train
from tests.fakes.policy_batches import tiny_act_config
from tests.fakes.policy_dataset import training_data


def ddp_config() -> tuple[object, TrainerConfig]:
    # No dropout, no VAE sampling, GroupNorm: one global batch gives the same gradient however
    # it is split over processes.
    policy = tiny_act_config(use_vae=False, dropout=0.0, batch_size=8)
    trainer = TrainerConfig(
        steps=3, seed=3, log_every=0, val_every=0, save_every=0, progress=False, num_threads=1
    )
    return policy, trainer


def run_worker(rank: int, world_size: int, port: int, out_dir: str, dataset: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    policy_cfg, trainer_cfg = ddp_config()
    data = training_data(Path(dataset), policy_cfg)
    result = train(data, trainer_cfg, Path(out_dir) / f"rank{rank}")  # type: ignore[arg-type]
    out = Path(out_dir)
    (out / f"losses_{rank}.json").write_text(json.dumps(result.losses))
    if rank == 0:
        from bricobot.policies.checkpoint import load_policy

        last = result.last_checkpoint
        assert last is not None
        weights = load_policy(last / "pretrained_model").state_dict()
        save_file({k: v.contiguous() for k, v in weights.items()}, str(out / "weights.safetensors"))
    torch.set_num_threads(1)
