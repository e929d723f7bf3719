"""The Policy interface shared by ACT and Diffusion Policy, and the config base with the feature spec.

A policy declares every input and output feature by name, with its shape at the robot boundary
(state and action ``(D,)``, camera images ``(H, W, 3)``), its element names (``"<joint>.pos"``) and
how it is normalized. The spec travels inside the checkpoint, so a checkpoint alone is enough to
run a policy and to refuse a robot or env whose features differ.

Inside a policy, images are float ``(B, 3, H, W)`` in [0, 1]; :func:`observation_to_batch` converts
what a robot or env returns (uint8 ``(H, W, 3)`` or ``(B, H, W, 3)``) into that.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from bricobot.features import (
    ACTION_KEY,
    IMAGE,
    IMAGE_PREFIX,
    STATE,
    STATE_KEY,
    Feature,
    FeatureSet,
    is_image_key,
    kind_of,
)
from bricobot.loading import from_dict

NORMALIZATION_MODES = ("mean_std", "min_max", "identity")


@dataclass
class FeatureConfig:
    """One input or output feature: shape at the boundary, element names, normalization mode."""

    #: ``[D]`` for state/action vectors, ``[H, W, 3]`` for camera images (uint8 RGB at the boundary).
    shape: list[int] = field(default_factory=list)
    #: ``mean_std``, ``min_max`` (to [-1, 1]) or ``identity``.
    normalization: str = "mean_std"
    #: Element names, e.g. ``["shoulder_pan.pos", ...]``; empty for images.
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATION_MODES:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATION_MODES)}, "
                f"got {self.normalization!r}"
            )
        if any(int(s) <= 0 for s in self.shape):
            raise ValueError(f"shape must be positive, got {self.shape}")


def feature_set(features: Mapping[str, FeatureConfig]) -> FeatureSet:
    """The policy-side features as the one feature spec (for comparison with a robot's)."""
    out = []
    for key, config in features.items():
        kind = kind_of(key) or STATE
        dtype = "uint8" if kind == IMAGE else "float32"
        out.append(Feature(key, kind, dtype, tuple(config.shape), tuple(config.names)))
    return FeatureSet(tuple(out))


def feature_configs(spec: FeatureSet) -> dict[str, FeatureConfig]:
    """A feature set as policy feature configs (shape and names; default normalization)."""
    return {f.key: FeatureConfig(shape=list(f.shape), names=list(f.names)) for f in spec.features}


@dataclass
class PolicyConfig:
    """Fields every policy config has: the feature spec and the optimizer/training defaults.

    Training hyper-parameters live with the policy because published recipes pair them with the
    architecture (ACT: AdamW lr 1e-5; Diffusion: Adam lr 1e-4 with warm-up and EMA).
    """

    type: str = ""
    #: Input features by name (``observation.state``, ``observation.images.<camera>``).
    input_features: dict[str, FeatureConfig] = field(default_factory=dict)
    #: Output features by name (``action``).
    output_features: dict[str, FeatureConfig] = field(default_factory=dict)
    #: Normalization mode given to features discovered from a dataset, by kind: state, visual, action.
    normalization_mapping: dict[str, str] = field(
        default_factory=lambda: {"state": "mean_std", "visual": "mean_std", "action": "mean_std"}
    )
    #: Cameras to use (names after ``observation.images.``); empty means every camera in the data.
    cameras: list[str] = field(default_factory=list)
    # Image preprocessing (bricobot.policies.preprocessing), saved in the checkpoint and applied
    # identically to training data and live camera frames.
    #: Input resolution ``[H, W]``: frames are scaled to cover it (aspect ratio kept) and
    #: center-cropped; empty keeps the camera's size.
    image_size: list[int] = field(default_factory=list)
    #: ``[h, w]`` crop of the resized image: random while training, centered at inference
    #: (Diffusion Policy's augmentation); empty = no crop.
    crop_shape: list[int] = field(default_factory=list)
    #: Random shift by up to this many pixels while training (edge padding); 0 = off.
    random_shift_px: int = 0
    #: Colour jitter while training: brightness/contrast/saturation factors in [1 - c, 1 + c]; 0 = off.
    color_jitter: float = 0.0

    optimizer: str = "adamw"
    lr: float = 1e-4
    #: Learning rate of the vision backbone parameter group.
    backbone_lr: float = 1e-4
    weight_decay: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_steps: int = 0
    #: Cosine decay to zero over the run after warm-up; false keeps the rate constant.
    cosine_decay: bool = False
    grad_clip_norm: float = 10.0
    #: Exponential moving average of the weights (None = off); evaluation uses the EMA weights.
    ema_decay: float | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        # Plain dicts (from config.json) become FeatureConfig; unknown keys are rejected by name.
        for name in ("input_features", "output_features"):
            mapping = getattr(self, name)
            for key, value in list(mapping.items()):
                if isinstance(value, dict):
                    mapping[key] = from_dict(FeatureConfig, value, f"{name}.{key}")
        for name, mapping in (("input_features", self.input_features),):
            for key in mapping:
                if key != STATE_KEY and not is_image_key(key):
                    raise ValueError(
                        f"{name}: unknown input feature {key!r}; inputs are {STATE_KEY!r} "
                        f"and '{IMAGE_PREFIX}<camera>'"
                    )
        for key in self.output_features:
            if key != ACTION_KEY:
                raise ValueError(f"output_features: unknown output {key!r}; only {ACTION_KEY!r}")
        for kind, mode in self.normalization_mapping.items():
            if kind not in ("state", "visual", "action"):
                raise ValueError(
                    f"normalization_mapping: unknown kind {kind!r}; use state, visual, action"
                )
            if mode not in NORMALIZATION_MODES:
                raise ValueError(f"normalization_mapping.{kind}: unknown mode {mode!r}")
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.lr <= 0 or self.backbone_lr < 0:
            raise ValueError("lr must be > 0 and backbone_lr >= 0")
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or null, got {self.ema_decay}")
        for name in ("image_size", "crop_shape"):
            value = getattr(self, name)
            if value and (len(value) != 2 or min(int(v) for v in value) <= 0):
                raise ValueError(f"{name} must be [H, W] (positive) or empty, got {value}")
        if (
            self.crop_shape
            and self.image_size
            and any(int(c) > int(s) for c, s in zip(self.crop_shape, self.image_size, strict=True))
        ):
            raise ValueError(
                f"crop_shape {self.crop_shape} is larger than image_size {self.image_size}"
            )
        if self.random_shift_px < 0:
            raise ValueError(f"random_shift_px must be >= 0, got {self.random_shift_px}")
        if not 0.0 <= self.color_jitter < 1.0:
            raise ValueError(f"color_jitter must be in [0, 1), got {self.color_jitter}")

    # Window of frames each training sample needs, relative to the current frame.
    @property
    def observation_delta_indices(self) -> list[int]:
        return [0]

    @property
    def action_delta_indices(self) -> list[int]:
        raise NotImplementedError

    @property
    def image_keys(self) -> list[str]:
        return [k for k in self.input_features if is_image_key(k)]

    @property
    def action_dim(self) -> int:
        return int(self.output_features[ACTION_KEY].shape[0])

    @property
    def state_dim(self) -> int:
        feat = self.input_features.get(STATE_KEY)
        return int(feat.shape[0]) if feat is not None else 0

    def all_features(self) -> dict[str, FeatureConfig]:
        return {**self.input_features, **self.output_features}

    def with_features(
        self, input_features: dict[str, FeatureConfig], output_features: dict[str, FeatureConfig]
    ) -> PolicyConfig:
        """A copy with the feature spec filled in (from a dataset's features)."""
        return dataclasses.replace(
            self, input_features=input_features, output_features=output_features
        )


class Policy(nn.Module, abc.ABC):
    """Base class of every policy.

    ``forward(batch)`` trains; ``predict_chunk(obs)`` returns a chunk of unnormalized actions;
    ``select_action(obs)`` returns one action per call and keeps its own queue; ``reset()`` clears
    the queue at the start of an episode.
    """

    config: PolicyConfig
    #: Whether ``predict_chunk`` takes ``prefix=``: actions the robot executes at the chunk's first
    #: steps anyway (a remote chunk's round trip), which the chunk then starts with and continues.
    continues_prefix: ClassVar[bool] = False

    @abc.abstractmethod
    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:  # type: ignore[override]
        """Training loss and scalar metrics for a batch from the training data."""

    @abc.abstractmethod
    def predict_chunk(self, obs: dict[str, Tensor], prefix: Tensor | None = None) -> Tensor:
        """Actions ``(B, n, action_dim)`` in robot units for a batch of observations; ``prefix``
        ``(B, d, A)`` is used only where :attr:`continues_prefix` says so (else ignored)."""

    @abc.abstractmethod
    def select_action(self, obs: dict[str, Tensor]) -> Tensor:
        """The next action ``(B, action_dim)`` in robot units; refills the queue when it runs out."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget queued actions and observation history (call at every episode start)."""

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups: the vision backbone at ``backbone_lr``, the rest at ``lr``."""
        backbone: list[nn.Parameter] = []
        rest: list[nn.Parameter] = []
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            (backbone if ".backbone." in f".{name}" else rest).append(param)
        groups: list[dict[str, Any]] = [{"params": rest, "lr": self.config.lr, "name": "main"}]
        if backbone:
            groups.append({"params": backbone, "lr": self.config.backbone_lr, "name": "backbone"})
        return groups


def observation_to_batch(
    obs: dict[str, Any], config: PolicyConfig, device: torch.device | str = "cpu"
) -> dict[str, Tensor]:
    """Convert a robot/env observation (numpy, boundary units) into the policy's input tensors.

    State ``(D,)`` or ``(B, D)`` → float32 ``(B, D)``; images uint8 ``(H, W, 3)`` or ``(B, H, W, 3)``
    → resized to the policy's ``image_size`` with :func:`~bricobot.policies.preprocessing.fit_frame`
    (exactly as the training data was; see :mod:`bricobot.policies.preprocessing`) → float32 ``(B, 3, h, w)`` in [0, 1]. Only the policy's input
    features are converted; a missing one raises a ``KeyError`` naming it.
    """
    from bricobot.cameras.resize import fit_frames

    batch: dict[str, Tensor] = {}
    for key in config.input_features:
        if key not in obs:
            raise KeyError(
                f"observation has no {key!r} (has: {', '.join(sorted(obs))}); "
                "check the policy's features against the robot's with check_features"
            )
        array = np.asarray(obs[key])
        if is_image_key(key):
            frames = array[None] if array.ndim == 3 else array  # (B, H, W, 3)
            if frames.dtype == np.uint8:
                frames = fit_frames(frames, config.image_size)
            # (B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]
            value = torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 255.0
        else:
            value = torch.as_tensor(array).float()
            if value.ndim == 1:
                value = value.unsqueeze(0)
        batch[key] = value.to(device)
    return batch
