"""Saving and restoring everything a run needs to continue exactly: weights, optimizer, scheduler,
EMA, random-number generators, data position and step. Tensors go to safetensors, the rest to
JSON; nothing is pickled.

Layout of one checkpoint directory ``checkpoints/<step>/``::

    pretrained_model/   config.json + model.safetensors  (EMA weights when EMA is on)
    training_state/     model.safetensors, optimizer.safetensors, ema.safetensors, rng.safetensors,
                        state.json
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from bricobot.errors import BricobotError

PRETRAINED_DIR = "pretrained_model"
STATE_DIR = "training_state"


class ResumeError(BricobotError):
    """A run cannot be resumed from the given checkpoint; the message names the file."""


def flatten_optimizer_state(
    state: Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer ``state_dict`` → (tensors keyed ``"<param>.<name>"``, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in meta.get("scalars", {}).items():
        state.setdefault(int(param_id), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_training_state(
    directory: Path,
    *,
    model_state: Mapping[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema_state: Mapping[str, torch.Tensor] | None,
    step: int,
    sampler_state: Mapping[str, Any],
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in model_state.items()},
        str(directory / "model.safetensors"),
    )
    opt_tensors, opt_meta = flatten_optimizer_state(optimizer.state_dict())
    save_file(opt_tensors, str(directory / "optimizer.safetensors"))
    if ema_state is not None:
        save_file(
            {k: v.contiguous().cpu() for k, v in ema_state.items()},
            str(directory / "ema.safetensors"),
        )
    rng = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"torch_cuda_{i}"] = s
    save_file(rng, str(directory / "rng.safetensors"))
    meta = {
        "step": step,
        "optimizer": opt_meta,
        "scheduler": scheduler.state_dict(),
        "sampler": dict(sampler_state),
        "ema": ema_state is not None,
    }
    (directory / "state.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_training_state(directory: Path) -> dict[str, Any]:
    """Everything :func:`save_training_state` wrote, as tensors and plain data."""
    state_json = directory / "state.json"
    if not state_json.is_file():
        raise ResumeError(f"{state_json} not found: not a training checkpoint (need {STATE_DIR}/)")
    meta = json.loads(state_json.read_text())
    try:
        out: dict[str, Any] = {
            "meta": meta,
            "model": load_file(str(directory / "model.safetensors")),
            "optimizer": unflatten_optimizer_state(
                load_file(str(directory / "optimizer.safetensors")), meta["optimizer"]
            ),
            "rng": load_file(str(directory / "rng.safetensors")),
            "ema": load_file(str(directory / "ema.safetensors")) if meta.get("ema") else None,
        }
    except Exception as exc:  # safetensors raises its own error type; name the directory
        raise ResumeError(f"cannot read the training state in {directory}: {exc}") from exc
    return out


def restore_rng(rng: Mapping[str, torch.Tensor]) -> None:
    torch.set_rng_state(rng["torch_cpu"])
    cuda = [rng[k] for k in sorted(rng) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def point_last(checkpoints_dir: Path, target: Path) -> Path:
    """Make ``checkpoints/last`` a symlink to ``target`` (replaced atomically)."""
    link = checkpoints_dir / "last"
    tmp = checkpoints_dir / ".last.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target.name, tmp)
    os.replace(tmp, link)
    return link
