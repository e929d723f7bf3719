"""One trainer for every policy.

Policies differ only in ``model.py``; this loop is shared: AdamW/Adam with a learning rate per
parameter group (vision backbone vs the rest), linear warm-up then optional cosine decay, gradient
clipping, optional EMA of the weights, bf16 autocast on CUDA, optional ``torch.compile``,
checkpoints every N steps plus ``last``, exact resume, a validation loss on held-out episodes,
periodic evaluation in simulation, a progress bar, metrics as JSON lines, a loss-curve PNG, and the
share of each step spent waiting for data. Launched with ``torchrun``, it trains with DDP (gloo on
CPU, NCCL on GPU); every process sees its slice of the same global batch.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from bricobot.errors import BricobotError
from bricobot.policies.base import Policy, PolicyConfig
from bricobot.policies.checkpoint import load_policy, make_policy, read_policy_config, save_policy
from bricobot.training.config import TrainerConfig
from bricobot.training.data import (
    EpisodeData,
    GlobalBatchSampler,
    WindowBatcher,
    features_for_policy,
)
from bricobot.training.plot import plot_loss_curves
from bricobot.training.state import (
    PRETRAINED_DIR,
    STATE_DIR,
    ResumeError,
    load_training_state,
    point_last,
    restore_rng,
    save_training_state,
)

#: ``eval_fn(policy, step) -> metrics`` runs the policy in simulation (rank 0 only).
EvalFn = Callable[[Policy, int], Mapping[str, float]]


class NonFiniteLossError(BricobotError):
    """The loss became NaN or infinite; the message names the step, the batch and its frames."""


@dataclass
class TrainResult:
    output_dir: Path
    last_checkpoint: Path | None
    step: int
    #: Training loss of every step run in this call, in order.
    losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    metrics_path: Path | None = None
    plot_path: Path | None = None
    data_wait_share: float = 0.0
    steps_per_s: float = 0.0


@dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistributedContext:
        """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` as set by ``torchrun``."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def resolve_device(name: str, ctx: DistributedContext) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and ctx.world_size > 1:
        name = f"cuda:{ctx.local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BricobotError("device=cuda but no CUDA GPU is visible; use device=cpu")
    return torch.device(name)


def lr_lambda(warmup_steps: int, total_steps: int, cosine: bool) -> Callable[[int], float]:
    """Multiplier of the base learning rate at a step: linear warm-up, then cosine to 0 or constant."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if not cosine:
            return 1.0
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class EMA:
    """Exponential moving average of a model's floating-point state, with the usual warm-up
    ``decay_t = min(decay, (1 + t) / (10 + t))`` so early averages are not dominated by init."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for key, value in model.state_dict().items():
            shadow = self.shadow[key]
            if shadow.is_floating_point():
                shadow.lerp_(value.detach(), 1.0 - d)
            else:
                shadow.copy_(value)


def build_optimizer(policy: Policy) -> torch.optim.Optimizer:
    cfg = policy.config
    groups = policy.parameter_groups()
    betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(groups, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)


def train(
    policy_config: PolicyConfig,
    data: EpisodeData,
    cfg: TrainerConfig,
    output_dir: str | Path,
    *,
    eval_fn: EvalFn | None = None,
    resume_from: str | Path | None = None,
    stats: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``policy_config`` on ``data`` for ``cfg.steps`` steps (in total, counting a resumed run's)."""
    ctx = DistributedContext.from_env()
    started_dist = False
    if ctx.world_size > 1 and not dist.is_initialized():
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)
        started_dist = True
    try:
        return _Run(
            policy_config, data, cfg, Path(output_dir), eval_fn, resume_from, stats, ctx
        ).run()
    finally:
        if started_dist:
            dist.destroy_process_group()


class _Run:
    def __init__(
        self,
        policy_config: PolicyConfig,
        data: EpisodeData,
        cfg: TrainerConfig,
        output_dir: Path,
        eval_fn: EvalFn | None,
        resume_from: str | Path | None,
        stats: Mapping[str, Any] | None,
        ctx: DistributedContext,
    ) -> None:
        self.cfg, self.ctx, self.eval_fn = cfg, ctx, eval_fn
        self.output_dir = output_dir
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.device = resolve_device(cfg.device, ctx)
        torch.manual_seed(cfg.seed + ctx.rank)
        self.train_data, self.val_data = data.split(cfg.val_fraction, cfg.seed)
        resume_state = None
        if resume_from is not None:
            ckpt = Path(resume_from).resolve()
            policy_config = read_policy_config(ckpt / PRETRAINED_DIR)
            resume_state = load_training_state(ckpt / STATE_DIR)
            self.policy = load_policy(ckpt / PRETRAINED_DIR)
        else:
            inputs, outputs = features_for_policy(data.features, policy_config)
            policy_config = policy_config.with_features(inputs, outputs)
            self.policy = make_policy(
                policy_config, stats if stats is not None else self.train_data.stats()
            )
        self.config = policy_config
        self.policy.to(self.device)
        self.batch_size = cfg.batch_size or policy_config.batch_size
        horizon = len(policy_config.action_delta_indices)
        short = int((self.train_data.episode_lengths < horizon).sum())
        if short and ctx.is_main:
            warnings.warn(
                f"{short} of {self.train_data.num_episodes} episodes are shorter than the action "
                f"chunk ({horizon} steps): most of their targets are padding",
                stacklevel=2,
            )
        self.batcher = WindowBatcher(self.train_data, policy_config)
        self.sampler = GlobalBatchSampler(
            len(self.batcher), self.batch_size, cfg.seed, ctx.rank, ctx.world_size
        )
        self.optimizer = build_optimizer(self.policy)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lr_lambda(policy_config.warmup_steps, cfg.steps, policy_config.cosine_decay),
        )
        self.ema = EMA(self.policy, policy_config.ema_decay) if policy_config.ema_decay else None
        self.step = 0
        if resume_state is not None:
            self._restore(resume_state)
        self.model: nn.Module = self.policy
        if ctx.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.policy, device_ids=ids)
        if cfg.compile:
            self.model = torch.compile(self.model)  # type: ignore[assignment]
        self.metrics_path = output_dir / "metrics.jsonl"
        self.checkpoints_dir = output_dir / "checkpoints"

    def _restore(self, state: Mapping[str, Any]) -> None:
        meta = state["meta"]
        missing = set(self.policy.state_dict()) ^ set(state["model"])
        if missing:
            raise ResumeError(f"training state does not match the policy: {sorted(missing)[:5]}")
        self.policy.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(meta["scheduler"])
        self.sampler.load_state_dict(meta["sampler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.shadow = {k: v.to(self.device) for k, v in state["ema"].items()}
        self.step = int(meta["step"])
        # Rank 0's generator state is restored on every rank (checkpoints are written by rank 0).
        restore_rng(state["rng"])

    # ------------------------------------------------------------------ helpers

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.device.type == "cpu":
            return batch
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def eval_policy(self) -> Policy:
        """The weights evaluation should use: the EMA copy when EMA is on."""
        if self.ema is None:
            return self.policy
        policy = copy.deepcopy(self.policy)
        policy.load_state_dict(self.ema.shadow)
        return policy

    def _log(self, record: dict[str, Any]) -> None:
        if not self.ctx.is_main:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        if self.val_data is None or self.cfg.val_batches == 0:
            return None
        batcher = WindowBatcher(self.val_data, self.config)
        rows = np.random.default_rng(self.cfg.seed).permutation(len(batcher))
        per_batch = min(self.batch_size, len(rows))
        losses = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            was_training = self.policy.training
            self.policy.eval()
            for i in range(min(self.cfg.val_batches, max(1, len(rows) // per_batch))):
                batch = self._to_device(batcher.batch(rows[i * per_batch : (i + 1) * per_batch]))
                with self._autocast():
                    loss, _ = self.policy(batch)
                losses.append(float(loss))
            self.policy.train(was_training)
        return float(np.mean(losses))

    def save(self) -> Path:
        step_dir = self.checkpoints_dir / f"{self.step:06d}"
        if self.ctx.is_main:
            save_policy(
                self.eval_policy(), step_dir / PRETRAINED_DIR, extra={"train_step": self.step}
            )
            save_training_state(
                step_dir / STATE_DIR,
                model_state=self.policy.state_dict(),
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                ema_state=self.ema.shadow if self.ema else None,
                step=self.step,
                sampler_state=self.sampler.state_dict(),
            )
            point_last(self.checkpoints_dir, step_dir)
            plot_loss_curves(self.metrics_path, self.output_dir / "loss_curve.png")
        if self.ctx.world_size > 1:
            dist.barrier()
        return step_dir

    def _batches(self) -> Iterator[tuple[dict[str, torch.Tensor], np.ndarray, int, int, float]]:
        while True:
            t0 = time.perf_counter()
            rows, epoch, index = self.sampler.next()
            batch = self._to_device(self.batcher.batch(rows))
            yield batch, rows, epoch, index, time.perf_counter() - t0

    # ------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        cfg = self.cfg
        result = TrainResult(self.output_dir, None, self.step, metrics_path=self.metrics_path)
        if self.ctx.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            n_params = sum(p.numel() for p in self.policy.parameters())
            self._log(
                {
                    "event": "start",
                    "step": self.step,
                    "policy": self.config.type,
                    "parameters": n_params,
                    "train_episodes": self.train_data.num_episodes,
                    "val_episodes": self.val_data.num_episodes if self.val_data else 0,
                    "train_frames": self.train_data.num_frames,
                    "batch_size": self.batch_size,
                    "world_size": self.ctx.world_size,
                    "device": str(self.device),
                }
            )
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc=f"train {self.config.type}",
            disable=not (cfg.progress and self.ctx.is_main),
            dynamic_ncols=True,
        )
        window: dict[str, list[float]] = {}
        total_wait = total_time = 0.0
        run_start = time.perf_counter()
        steps_run = 0
        batches = self._batches()
        self.policy.train()
        while self.step < cfg.steps:
            t_start = time.perf_counter()
            batch, rows, epoch, index, wait_s = next(batches)
            with self._autocast():
                loss, metrics = self.model(batch)
            if not torch.isfinite(loss):
                frames = self.train_data.locate(rows.tolist())
                raise NonFiniteLossError(
                    f"loss is {float(loss.detach())} at step {self.step} (epoch {epoch}, batch {index}); "
                    f"batch frames (episode, frame): {frames[:16]}. Training stopped: check those "
                    "frames for NaN/inf values, or lower the learning rate."
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                self.policy.parameters(), self.config.grad_clip_norm
            )
            self.optimizer.step()
            self.scheduler.step()
            if self.ema is not None:
                self.ema.update(self.policy, self.step)
            self.step += 1
            steps_run += 1
            step_s = time.perf_counter() - t_start
            total_wait += wait_s
            total_time += step_s
            loss_value = float(loss.detach())
            result.losses.append(loss_value)
            for key, value in {
                "loss": loss_value,
                "grad_norm": float(grad_norm),
                "data_wait_s": wait_s,
                "step_s": step_s,
                **metrics,
            }.items():
                window.setdefault(key, []).append(float(value))
            bar.update(1)
            if cfg.log_every and self.step % cfg.log_every == 0:
                record = {k: float(np.mean(v)) for k, v in window.items()}
                record["data_wait_share"] = sum(window["data_wait_s"]) / max(
                    1e-9, sum(window["step_s"])
                )
                for group in self.optimizer.param_groups:
                    record[f"lr/{group.get('name', 'main')}"] = group["lr"]
                self._log({"step": self.step, "epoch": epoch, **record})
                bar.set_postfix(
                    loss=f"{record['loss']:.4f}", data=f"{100 * record['data_wait_share']:.0f}%"
                )
                window = {}
            if cfg.val_every and self.step % cfg.val_every == 0 and self.ctx.is_main:
                val = self.validation_loss()
                if val is not None:
                    result.val_losses.append((self.step, val))
                    self._log({"step": self.step, "val_loss": val})
            if (
                cfg.eval_every
                and self.eval_fn
                and self.step % cfg.eval_every == 0
                and self.ctx.is_main
            ):
                with torch.random.fork_rng(devices=[]):
                    scores = self.eval_fn(self.eval_policy(), self.step)
                self._log({"step": self.step, **{f"eval/{k}": v for k, v in scores.items()}})
            if cfg.save_every and self.step % cfg.save_every == 0:
                result.last_checkpoint = self.save()
        bar.close()
        if result.last_checkpoint is None or not result.last_checkpoint.name.endswith(
            f"{self.step:06d}"
        ):
            if cfg.val_every and self.ctx.is_main and not result.val_losses:
                val = self.validation_loss()
                if val is not None:
                    result.val_losses.append((self.step, val))
                    self._log({"step": self.step, "val_loss": val})
            result.last_checkpoint = self.save()
        elapsed = time.perf_counter() - run_start
        result.step = self.step
        result.data_wait_share = total_wait / max(1e-9, total_time)
        result.steps_per_s = steps_run / max(1e-9, elapsed)
        self._log(
            {
                "event": "end",
                "step": self.step,
                "steps_per_s": result.steps_per_s,
                "data_wait_share": result.data_wait_share,
                "elapsed_s": elapsed,
            }
        )
        if self.ctx.is_main:
            result.plot_path = plot_loss_curves(
                self.metrics_path, self.output_dir / "loss_curve.png"
            )
        return result
