"""ACT configuration; defaults are the published ones (Zhao et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.policies.backbones import NORM_KINDS
from bricobot.policies.base import PolicyConfig


@dataclass
class ACTConfig(PolicyConfig):
    """Action Chunking with Transformers: a CVAE over action chunks, one ResNet18 for all cameras."""

    type: str = "act"
    #: Actions predicted per inference (the chunk), and how many of them are executed before
    #: predicting again (ignored with temporal ensembling, which predicts every step).
    chunk_size: int = 100
    n_action_steps: int = 100
    dim_model: int = 512
    n_heads: int = 8
    dim_feedforward: int = 3200
    n_encoder_layers: int = 4
    #: The original code configured 7 decoder layers but only the first was used.
    n_decoder_layers: int = 1
    use_vae: bool = True
    latent_dim: int = 32
    n_vae_encoder_layers: int = 4
    dropout: float = 0.1
    kl_weight: float = 10.0
    pre_norm: bool = False
    feedforward_activation: str = "relu"
    #: ResNet18 stage width (64 = standard; 16/32 = narrow for CPUs) and its normalization:
    #: ``batch`` when training from scratch; ``frozen_batch`` (the paper's) only with pretrained
    #: weights, whose images are then normalized with ImageNet statistics.
    backbone_width: int = 64
    backbone_norm: str = "batch"
    #: Skip the stem's max-pool, for small (≤ 96 px) images.
    backbone_small_input: bool = False
    #: Local safetensors file with torchvision-named ResNet18 weights (ImageNet), or None.
    pretrained_backbone_path: str | None = None
    #: Temporal ensembling coefficient k (the paper uses 0.01); None executes chunks from a queue.
    temporal_ensemble_coeff: float | None = None

    lr: float = 1e-5
    backbone_lr: float = 1e-5
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    batch_size: int = 8
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.type != "act":
            raise ValueError(f"type must be 'act' for ACTConfig, got {self.type!r}")
        if not 1 <= self.n_action_steps <= self.chunk_size:
            raise ValueError(
                f"n_action_steps ({self.n_action_steps}) must be in 1..chunk_size ({self.chunk_size})"
            )
        if self.dim_model % self.n_heads:
            raise ValueError(f"dim_model ({self.dim_model}) must be divisible by n_heads")
        if self.dim_model % 2:
            raise ValueError("dim_model must be even (2D sinusoidal position embeddings)")
        if self.backbone_norm not in NORM_KINDS:
            raise ValueError(f"backbone_norm must be one of {', '.join(NORM_KINDS)}")
        if self.backbone_norm == "frozen_batch" and not self.pretrained_backbone_path:
            raise ValueError(
                "backbone_norm: frozen_batch freezes BatchNorm statistics, which only fits "
                "pretrained weights: set pretrained_backbone_path or use backbone_norm: batch"
            )
        if self.feedforward_activation not in ("relu", "gelu"):
            raise ValueError("feedforward_activation must be 'relu' or 'gelu'")
        if self.n_encoder_layers < 1 or self.n_decoder_layers < 1:
            raise ValueError("n_encoder_layers and n_decoder_layers must be >= 1")
        if self.temporal_ensemble_coeff is not None and self.n_action_steps != 1:
            raise ValueError("temporal ensembling predicts every step: set n_action_steps: 1")

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))
