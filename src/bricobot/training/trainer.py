"""One trainer for every policy.

Policies differ only in ``model.py``; this loop is shared: AdamW/Adam with a learning rate per
parameter group (vision backbone vs the rest), linear warm-up then optional cosine decay, gradient
clipping, optional EMA of the weights, bf16 autocast on CUDA, optional ``torch.compile``,
checkpoints every N steps and every few minutes plus ``last``, a resumable checkpoint on Ctrl-C or
SIGTERM, exact resume, a validation loss on held-out episodes, periodic evaluation in simulation, a
progress bar, metrics as JSON lines, a loss-curve PNG, and the share of each step spent waiting for
data. Data comes through :mod:`bricobot.training.data` (DataLoader workers; pinned memory and
non-blocking copies on CUDA; images cross as uint8 and become floats on the device). Launched with
``torchrun``, it trains with DDP (gloo on CPU, NCCL on GPU); every process sees its slice of the
same global batch.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shutil
import signal
import threading
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
from bricobot.policies.base import Policy
from bricobot.policies.checkpoint import PRETRAINED_DIR, load_policy, make_policy, save_policy
from bricobot.policies.normalize import policy_stats
from bricobot.training.config import TrainerConfig
from bricobot.training.data import (
    EpochBatchSampler,
    TrainingData,
    TrainingDataError,
    make_loader,
)
from bricobot.training.plot import plot_loss_curves
from bricobot.training.state import (
    STATE_DIR,
    ResumeError,
    load_training_state,
    point_last,
    restore_rng,
    restoring,
    resume_hint,
    save_training_state,
)

log = logging.getLogger(__name__)

#: ``eval_fn(policy, step) -> metrics`` runs the policy in simulation (rank 0 only).
EvalFn = Callable[[Policy, int], Mapping[str, float]]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training after a resumable checkpoint was saved (``checkpoint``)."""

    def __init__(self, checkpoint: Path | None, step: int) -> None:
        super().__init__(f"training interrupted at step {step}; checkpoint {checkpoint}")
        self.checkpoint = checkpoint
        self.step = step


class NonFiniteLossError(BricobotError):
    """The loss became NaN or infinite; the message names the step, the batch and its frames."""


class CheckpointSaveError(BricobotError):
    """A checkpoint could not be written (disk full, permissions); the message names the file and
    the last complete checkpoint to resume from."""


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
        raise BricobotError(
            "trainer.device=cuda but no CUDA GPU is visible to torch: use trainer.device=cpu "
            "(or auto), or install the CUDA build of torch"
        )
    return torch.device(name)


def idle_cpus(sample_s: float = 0.3) -> float:
    """How many of this process's CPUs other processes left idle over ``sample_s`` seconds (from
    /proc/stat, not counting this process's own use; the CPU count where it cannot be read)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def totals() -> tuple[float, float]:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all jiffies, idle + iowait

    try:
        total0, idle0 = totals()
        own0, t0 = time.process_time(), time.monotonic()
        time.sleep(sample_s)
        total1, idle1 = totals()
        own_cpus = (time.process_time() - own0) / max(1e-3, time.monotonic() - t0)
    except (OSError, ValueError, IndexError):
        return float(cpus)
    machine_cpus = os.cpu_count() or cpus
    busy = machine_cpus * (1.0 - (idle1 - idle0) / max(1.0, total1 - total0))
    return max(0.0, min(float(cpus), machine_cpus - max(0.0, busy - own_cpus)))


def default_cpu_threads(data_workers: int, light_workers: bool = False) -> int:
    """Math threads for CPU training: the CPUs idle when training starts, less one per data
    worker that decodes video (``light_workers``: they read the frame cache and need little).
    A thread pool wider than the idle CPUs collapses (3-50x slower steps) when another process
    competes for a core; sized to the idle CPUs, a quiet machine is used fully and a busy one
    keeps its speed (``scripts/bench/train_under_load.py``)."""
    reserved = 0 if light_workers else data_workers
    return max(1, math.floor(idle_cpus() + 0.4) - reserved)  # a CPU 60 % idle counts


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
    data: TrainingData,
    cfg: TrainerConfig,
    output_dir: str | Path,
    *,
    eval_fn: EvalFn | None = None,
    resume_from: str | Path | None = None,
) -> TrainResult:
    """Train ``data.config`` on ``data`` for ``cfg.steps`` steps (in total, counting a resumed run's).

    ``resume_from`` is a checkpoint step directory (``.../checkpoints/last``); the run continues with
    its weights, optimizer, schedule, EMA, random state and data order.
    """
    ctx = DistributedContext.from_env()
    started_dist = False
    if ctx.world_size > 1 and not dist.is_initialized():
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)
        started_dist = True
    try:
        return _Run(data, cfg, Path(output_dir), eval_fn, resume_from, ctx).run()
    finally:
        if started_dist:
            dist.destroy_process_group()


@contextlib.contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C or SIGTERM (a second Ctrl-C interrupts at once)."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested.set()
        print(
            "\nstopping after this step and saving a resumable checkpoint (Ctrl-C again to "
            "stop at once, without saving)",
            flush=True,
        )

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Run:
    """One training run: the policy, optimizer, schedule, data loader and the loop over steps."""

    def __init__(
        self,
        data: TrainingData,
        cfg: TrainerConfig,
        output_dir: Path,
        eval_fn: EvalFn | None,
        resume_from: str | Path | None,
        ctx: DistributedContext,
    ) -> None:
        self.cfg, self.ctx, self.eval_fn, self.data = cfg, ctx, eval_fn, data
        self.output_dir = output_dir
        self.device = resolve_device(cfg.device, ctx)
        self.workers = data.data_config.workers()
        self.threads = self._set_threads()
        torch.manual_seed(cfg.seed + ctx.rank)
        self.config = data.config
        self.batch_size = cfg.batch_size or self.config.batch_size
        try:
            self.sampler = EpochBatchSampler(
                len(data.train), self.batch_size, cfg.seed, ctx.rank, ctx.world_size
            )
        except TrainingDataError as exc:
            raise TrainingDataError(f"{data.meta.root}: {exc}") from None
        resume_state = self._load_resume(resume_from)
        if resume_state is None:
            self.policy = make_policy(self.config, policy_stats(data.stats, self.config))
        self.policy.to(self.device)
        if self.device.type == "cuda" and cfg.channels_last:
            self.policy.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._warn_short_episodes()
        self.optimizer = build_optimizer(self.policy)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lr_lambda(self.config.warmup_steps, cfg.steps, self.config.cosine_decay),
        )
        self.ema = EMA(self.policy, self.config.ema_decay) if self.config.ema_decay else None
        self.step = 0
        if resume_state is not None:
            self._restore(resume_state)
        self.model = self._wrap_model()
        self.metrics_path = output_dir / "metrics.jsonl"
        self.checkpoints_dir = output_dir / "checkpoints"
        self.last_save_s = time.monotonic()

    def _set_threads(self) -> int:
        if self.device.type != "cpu":
            return torch.get_num_threads()
        data_cfg = self.data.data_config
        threads = self.cfg.num_threads or default_cpu_threads(
            data_cfg.workers(), light_workers=data_cfg.frame_cache
        )
        torch.set_num_threads(threads)
        return threads

    def _load_resume(self, resume_from: str | Path | None) -> dict[str, Any] | None:
        if resume_from is None:
            return None
        ckpt = Path(resume_from).resolve()
        state = load_training_state(ckpt / STATE_DIR)
        self.policy = load_policy(ckpt / PRETRAINED_DIR)
        return state

    def _warn_short_episodes(self) -> None:
        horizon = len(self.config.action_delta_indices)
        meta = self.data.meta
        lengths = [int(meta.episodes[e]["length"]) for e in self.data.train.episodes]
        short = sum(n < horizon for n in lengths)
        if short and self.ctx.is_main:
            warnings.warn(
                f"{short} of {len(lengths)} episodes are shorter than the action chunk "
                f"({horizon} steps): most of their targets are padding",
                stacklevel=3,
            )

    def _wrap_model(self) -> nn.Module:
        model: nn.Module = self.policy
        if self.ctx.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(self.policy, device_ids=ids)
        if self.cfg.compile:
            model = torch.compile(model)  # type: ignore[assignment]
        return model

    def _restore(self, state: Mapping[str, Any]) -> None:
        meta, where = state["meta"], Path(state["directory"])
        hint = resume_hint(where.parent)
        with restoring(where / "model.safetensors", hint):
            missing = set(self.policy.state_dict()) ^ set(state["model"])
            if missing:
                raise ResumeError(
                    f"{where / 'model.safetensors'} does not match the policy (keys "
                    f"{sorted(missing)[:5]}); {hint}"
                )
            self.policy.load_state_dict(state["model"])
        with restoring(where / "optimizer.safetensors", hint):
            self.optimizer.load_state_dict(state["optimizer"])
        with restoring(where / "state.json", hint):
            self.scheduler.load_state_dict(meta["scheduler"])
            self.sampler.load_state_dict(meta["sampler"])
            self.step = int(meta["step"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.shadow = {k: v.to(self.device) for k, v in state["ema"].items()}
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

    def _loader(self, dataset: Any, batches: Any) -> Any:
        cfg = self.data.data_config
        return make_loader(
            dataset,
            batches,
            self.data.batch_keys,
            self.workers,
            cfg.prefetch_factor,
            pin_memory=self.device.type == "cuda",
        )

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
        """Mean loss over the same ``val_batches`` batches of held-out episodes every time."""
        val = self.data.val
        if val is None or self.cfg.val_batches == 0:
            return None
        per_batch = min(self.batch_size, len(val))
        rows = np.random.default_rng(self.cfg.seed).permutation(len(val))
        n_batches = min(self.cfg.val_batches, max(1, len(rows) // per_batch))
        batches = [rows[i * per_batch : (i + 1) * per_batch].tolist() for i in range(n_batches)]
        losses = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            was_training = self.policy.training
            self.policy.eval()
            for batch in make_loader(val, batches, self.data.batch_keys, 0):
                with self._autocast():
                    loss, _ = self.policy(self._to_device(batch))
                losses.append(float(loss))
            self.policy.train(was_training)
        return float(np.mean(losses))

    def save(self) -> Path:
        step_dir = self.checkpoints_dir / f"{self.step:06d}"
        if self.ctx.is_main:
            self._write_checkpoint(step_dir)
            plot_loss_curves(self.metrics_path, self.output_dir / "loss_curve.png")
        if self.ctx.world_size > 1:
            dist.barrier()
        self.last_save_s = time.monotonic()
        return step_dir

    def _write_checkpoint(self, step_dir: Path) -> None:
        """Write ``step_dir`` and point ``last`` at it. When the disk is full (or unwritable), a
        partly written new step is removed and ``last`` still names the last complete one."""
        existed = step_dir.exists()
        try:
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
                sampler_state=self.sampler.state_dict(self.step),
            )
            point_last(self.checkpoints_dir, step_dir)
        except OSError as exc:
            if not existed:
                shutil.rmtree(step_dir, ignore_errors=True)
            last = self.checkpoints_dir / "last"
            resume = (
                f"resume with resume_from={last.resolve()} (the last complete checkpoint)"
                if last.exists()
                else "train again (no checkpoint of this run was saved before)"
            )
            raise CheckpointSaveError(
                f"cannot write checkpoint {step_dir} at step {self.step}: {exc.strerror or exc}"
                f" ({exc.filename}): free disk space (or fix permissions), then {resume}"
            ) from exc

    def _batches(self) -> Iterator[tuple[dict[str, torch.Tensor], float]]:
        """Batches on the device, each with the seconds the loop waited for it."""
        self.sampler.start_batch = self.step
        loader = iter(self._loader(self.data.train, self.sampler))
        while True:
            t0 = time.perf_counter()
            batch = self._to_device(next(loader))
            yield batch, time.perf_counter() - t0

    # ------------------------------------------------------------------ loop

    def _start_record(self) -> dict[str, Any]:
        return {
            "event": "start",
            "step": self.step,
            "policy": self.config.type,
            "parameters": sum(p.numel() for p in self.policy.parameters()),
            "train_episodes": len(self.data.train.episodes),
            "val_episodes": len(self.data.val.episodes) if self.data.val else 0,
            "train_frames": len(self.data.train),
            "batch_size": self.batch_size,
            "world_size": self.ctx.world_size,
            "device": str(self.device),
            "cpu_threads": self.threads,
            "data_workers": self.workers,
            "frame_cache": self.data.data_config.frame_cache,
        }

    def _announce(self) -> None:
        if not self.ctx.is_main:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        record = self._start_record()
        self._log(record)
        source = "the frame cache" if record["frame_cache"] else "video"
        print(
            f"training {self.config.type} ({record['parameters'] / 1e6:.1f}M parameters) on "
            f"{record['train_frames']} frames of {record['train_episodes']} episodes "
            f"({record['val_episodes']} held out) from {source}; device {self.device}, "
            f"{self.threads} math threads, {self.workers} data workers; output {self.output_dir}",
            flush=True,
        )

    def _train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
        """One optimizer step; returns the loss and the metrics to log."""
        with self._autocast():
            loss, metrics = self.model(batch)
        if not torch.isfinite(loss):
            self._raise_non_finite(loss, batch)
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
        return float(loss.detach()), {"grad_norm": float(grad_norm), **metrics}

    def _raise_non_finite(self, loss: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        frames = list(
            zip(
                batch["episode_index"].cpu().tolist(),
                batch["frame_index"].cpu().tolist(),
                strict=True,
            )
        )
        epoch = self.sampler.epoch_of(self.step)
        raise NonFiniteLossError(
            f"loss is {float(loss.detach())} at step {self.step} (epoch {epoch}); batch frames "
            f"(episode, frame): {frames[:16]}. Training stopped: check those frames for NaN/inf "
            "values, or lower the learning rate."
        )

    def _flush_window(self, window: dict[str, list[float]], bar: Any) -> None:
        record = {k: float(np.mean(v)) for k, v in window.items()}
        record["data_wait_share"] = sum(window["data_wait_s"]) / max(1e-9, sum(window["step_s"]))
        for group in self.optimizer.param_groups:
            record[f"lr/{group.get('name', 'main')}"] = group["lr"]
        self._log({"step": self.step, "epoch": self.sampler.epoch_of(self.step), **record})
        bar.set_postfix(
            loss=f"{record['loss']:.4f}", data=f"{100 * record['data_wait_share']:.0f}%"
        )
        window.clear()

    def _periodic(self, result: TrainResult) -> None:
        """Validation, evaluation and checkpoints that are due after this step."""
        cfg, step = self.cfg, self.step
        if cfg.val_every and step % cfg.val_every == 0 and self.ctx.is_main:
            self._validate(result)
        if cfg.eval_every and self.eval_fn and step % cfg.eval_every == 0 and self.ctx.is_main:
            with torch.random.fork_rng(devices=[]):
                scores = self.eval_fn(self.eval_policy(), step)
            self._log({"step": step, **{f"eval/{k}": v for k, v in scores.items()}})
        overdue = (
            cfg.save_every_min > 0 and time.monotonic() - self.last_save_s > 60 * cfg.save_every_min
        )
        if self.ctx.world_size > 1:  # every rank must agree to enter save()'s barrier
            flag = torch.tensor([int(overdue)])
            dist.broadcast(flag, 0)
            overdue = bool(flag.item())
        if (cfg.save_every and step % cfg.save_every == 0) or overdue:
            result.last_checkpoint = self.save()

    def _validate(self, result: TrainResult) -> None:
        val = self.validation_loss()
        if val is not None:
            result.val_losses.append((self.step, val))
            self._log({"step": self.step, "val_loss": val})

    def run(self) -> TrainResult:
        result = TrainResult(self.output_dir, None, self.step, metrics_path=self.metrics_path)
        self._announce()
        with stop_requests() as stop:
            self._loop(result, stop)
            if stop.is_set():
                checkpoint = self.save()
                print(f"saved a resumable checkpoint at step {self.step}: {checkpoint}", flush=True)
                raise TrainingInterrupted(checkpoint, self.step)
        self._finish(result)
        return result

    def _loop(self, result: TrainResult, stop: threading.Event) -> None:
        """Steps until ``cfg.steps`` or a stop request; fills ``result``'s losses and timing."""
        cfg = self.cfg
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc=f"train {self.config.type}",
            disable=not (cfg.progress and self.ctx.is_main),
            dynamic_ncols=True,
        )
        window: dict[str, list[float]] = {}
        total_wait = total_time = 0.0
        run_start, first_step = time.perf_counter(), self.step
        batches = self._batches()
        self.policy.train()
        while self.step < cfg.steps and not stop.is_set():
            t_start = time.perf_counter()
            batch, wait_s = next(batches)
            loss, metrics = self._train_step(batch)
            step_s = time.perf_counter() - t_start
            total_wait, total_time = total_wait + wait_s, total_time + step_s
            result.losses.append(loss)
            for key, value in {
                "loss": loss,
                "data_wait_s": wait_s,
                "step_s": step_s,
                **metrics,
            }.items():
                window.setdefault(key, []).append(float(value))
            bar.update(1)
            if cfg.log_every and self.step % cfg.log_every == 0:
                self._flush_window(window, bar)
            self._periodic(result)
        bar.close()
        result.data_wait_share = total_wait / max(1e-9, total_time)
        result.steps_per_s = (self.step - first_step) / max(1e-9, time.perf_counter() - run_start)

    def _finish(self, result: TrainResult) -> None:
        """Final validation and checkpoint (unless this step's was just written), summary, plot."""
        if result.last_checkpoint is None or not result.last_checkpoint.name.endswith(
            f"{self.step:06d}"
        ):
            if self.cfg.val_every and self.ctx.is_main and not result.val_losses:
                self._validate(result)
            result.last_checkpoint = self.save()
        result.step = self.step
        end: dict[str, Any] = {
            "event": "end",
            "step": self.step,
            "steps_per_s": result.steps_per_s,
            "data_wait_share": result.data_wait_share,
        }
        if self.device.type == "cuda":
            end["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated(self.device) / 1e9
        self._log(end)
        if self.ctx.is_main:
            result.plot_path = plot_loss_curves(
                self.metrics_path, self.output_dir / "loss_curve.png"
            )
