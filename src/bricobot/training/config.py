"""Trainer settings (policy-specific optimizer defaults live in the policy config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainerConfig:
    """How long and how to train, log, validate, checkpoint and evaluate."""

    steps: int = 100_000
    seed: int = 1000
    #: ``auto`` picks CUDA when available, else CPU.
    device: str = "auto"
    #: Overrides the policy preset's batch size (global, over all processes) when set.
    batch_size: int | None = None
    #: Share of episodes held out for the validation loss (by episode, never by frame).
    val_fraction: float = 0.1
    val_every: int = 1000
    val_batches: int = 8
    #: Checkpoint every N steps, and whenever ``save_every_min`` minutes passed since the last one
    #: (0 = only by steps), so a crash or a kill never costs more than a few minutes of training.
    save_every: int = 10_000
    save_every_min: float = 10.0
    log_every: int = 100
    #: Evaluate in simulation every N steps (0 = never); needs an env in the train command.
    eval_every: int = 0
    #: bf16 autocast on CUDA (ignored on CPU).
    amp: bool = True
    #: channels_last memory format for the conv backbones on CUDA (faster with bf16).
    channels_last: bool = True
    compile: bool = False
    #: Threads for CPU math (None = the cores left by the data workers, at most half the machine,
    #: which keeps its speed when another process competes for the CPU).
    num_threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.steps <= 0:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.save_every_min < 0:
            raise ValueError(f"save_every_min must be >= 0, got {self.save_every_min}")
        for name in ("val_every", "save_every", "log_every", "eval_every", "val_batches"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.batch_size is not None and self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
