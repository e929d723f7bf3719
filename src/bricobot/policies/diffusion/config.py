"""Diffusion Policy configuration; defaults are the published ones (Chi et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.policies.backbones import NORM_KINDS
from bricobot.policies.base import PolicyConfig


@dataclass
class DiffusionConfig(PolicyConfig):
    """Diffusion Policy: a 1D conditional U-Net denoises action sequences given observation features."""

    type: str = "diffusion"
    #: Observation frames given to the model (current and previous), length of the denoised
    #: action sequence (starting at the oldest observation), and actions executed per inference.
    n_obs_steps: int = 2
    horizon: int = 16
    n_action_steps: int = 8
    down_dims: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 128
    use_film_scale_modulation: bool = True
    backbone_width: int = 64
    backbone_norm: str = "group"
    backbone_small_input: bool = False
    pretrained_backbone_path: str | None = None
    spatial_softmax_num_keypoints: int = 32
    num_train_timesteps: int = 100
    #: Only the squared-cosine schedule of the paper ("squaredcos_cap_v2") and "linear" are provided.
    beta_schedule: str = "squaredcos_cap_v2"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    #: What the network predicts: the noise ("epsilon") or the clean sample ("sample").
    prediction_type: str = "epsilon"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    #: DDIM steps at inference.
    num_inference_steps: int = 10

    normalization_mapping: dict[str, str] = field(
        default_factory=lambda: {"state": "min_max", "visual": "mean_std", "action": "min_max"}
    )
    optimizer: str = "adam"
    lr: float = 1e-4
    backbone_lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.95, 0.999])
    weight_decay: float = 1e-6
    warmup_steps: int = 500
    cosine_decay: bool = True
    ema_decay: float | None = 0.9999
    batch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.type != "diffusion":
            raise ValueError(f"type must be 'diffusion' for DiffusionConfig, got {self.type!r}")
        if self.n_obs_steps < 1:
            raise ValueError("n_obs_steps must be >= 1")
        factor = 2 ** (len(self.down_dims) - 1)
        if self.horizon % factor:
            raise ValueError(
                f"horizon ({self.horizon}) must be a multiple of {factor} (2^(len(down_dims)-1))"
            )
        if not 1 <= self.n_action_steps <= self.horizon - self.n_obs_steps + 1:
            raise ValueError("n_action_steps must be in 1..horizon-n_obs_steps+1")
        if self.backbone_norm not in NORM_KINDS:
            raise ValueError(f"backbone_norm must be one of {', '.join(NORM_KINDS)}")
        if self.beta_schedule not in ("squaredcos_cap_v2", "linear"):
            raise ValueError("beta_schedule must be 'squaredcos_cap_v2' or 'linear'")
        if self.prediction_type not in ("epsilon", "sample"):
            raise ValueError("prediction_type must be 'epsilon' or 'sample'")
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError("num_inference_steps must be in 1..num_train_timesteps")
        if any(d % self.n_groups for d in self.down_dims):
            raise ValueError(
                f"every down_dims entry must be divisible by n_groups ({self.n_groups})"
            )

    @property
    def observation_delta_indices(self) -> list[int]:
        return list(range(1 - self.n_obs_steps, 1))

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(1 - self.n_obs_steps, 1 - self.n_obs_steps + self.horizon))
