"""Saving and restoring everything a run needs to continue exactly: weights, optimizer, scheduler,
EMA, random-number generators, data position and step. Tensors go to safetensors, the rest to
JSON; nothing is pickled.

Layout of one checkpoint directory ``checkpoints/<step>/``::

    pretrained_model/   config.json + model.safetensors  (EMA weights when EMA is on)
    training_state/     model.safetensors, optimizer.safetensors, ema.safetensors, rng.safetensors,
                        state.json
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bricobot.errors import BricobotError

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


#: Keys of ``state.json`` that a resume needs.
STATE_KEYS = ("step", "optimizer", "scheduler", "sampler")


def resume_hint(step_dir: Path) -> str:
    """What to do when the checkpoint ``step_dir`` (``<run>/checkpoints/<step>``) cannot be resumed:
    name the run's other saved steps, or say to start a new run."""
    step_dir = step_dir.resolve()
    others = sorted(
        p.name
        for p in step_dir.parent.glob("*")
        if p.is_dir() and not p.is_symlink() and p != step_dir and (p / STATE_DIR).is_dir()
    )
    if others:
        return (
            f"resume from another step instead, e.g. resume_from={step_dir.parent / others[-1]} "
            f"(saved: {', '.join(others)})"
        )
    return f"no other step is saved in {step_dir.parent}: start a new run without resume_from"


def load_training_state(directory: Path) -> dict[str, Any]:
    """Everything :func:`save_training_state` wrote, as tensors and plain data, plus the
    ``directory`` it came from. Raises :class:`ResumeError` naming a missing or damaged file."""
    hint = resume_hint(directory.parent)
    state_json = directory / "state.json"
    if not state_json.is_file():
        raise ResumeError(
            f"{state_json} not found: {directory.parent} is not a resumable checkpoint (it has no "
            f"complete {STATE_DIR}/); {hint}"
        )
    with restoring(state_json, hint):
        meta = json.loads(state_json.read_text())
    missing = [key for key in STATE_KEYS if key not in meta]
    if missing:
        raise ResumeError(f"{state_json} lacks {missing}: it is damaged; {hint}")
    with restoring(directory / "optimizer.safetensors", hint):
        optimizer = unflatten_optimizer_state(
            _load_tensors(directory / "optimizer.safetensors", hint), meta["optimizer"]
        )
    return {
        "meta": meta,
        "directory": directory,
        "model": _load_tensors(directory / "model.safetensors", hint),
        "optimizer": optimizer,
        "rng": _load_tensors(directory / "rng.safetensors", hint),
        "ema": _load_tensors(directory / "ema.safetensors", hint) if meta.get("ema") else None,
    }


def _load_tensors(path: Path, hint: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ResumeError(f"{path} not found: the checkpoint is incomplete; {hint}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ResumeError(f"{path} is damaged ({exc}); {hint}") from exc


@contextlib.contextmanager
def restoring(path: Path, hint: str) -> Iterator[None]:
    """Turn an error while reading or applying ``path`` into a :class:`ResumeError` naming it."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise ResumeError(f"{path} is not valid JSON ({exc}): it is damaged; {hint}") from exc
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise ResumeError(f"{path} does not fit this run ({detail}); {hint}") from exc


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
