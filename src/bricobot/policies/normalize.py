"""Feature normalization as part of the model state.

Statistics are registered buffers, so they are saved in ``model.safetensors`` with the weights and a
checkpoint alone reproduces the policy's inputs and outputs. Buffers start as NaN: a policy whose
statistics were never set fails loudly on first use instead of producing garbage.

Modes: ``mean_std`` → (x − mean) / std; ``min_max`` → [-1, 1]; ``identity`` → unchanged.
Image statistics are per channel, shaped ``(3, 1, 1)`` to broadcast over ``(B, 3, H, W)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from bricobot.features import is_image_key
from bricobot.policies.base import FeatureConfig

#: Smallest standard deviation (or min–max range) divided by: a joint that never moves in the data
#: would otherwise blow its normalized values up. Applied at use time, so the buffers keep the
#: dataset's statistics exactly as ``meta/stats.json`` has them.
MIN_STD = 1e-2
FeatureStats = Mapping[str, "np.ndarray | Tensor"]

#: Per-channel statistics of ImageNet, for backbones loaded with ImageNet weights.
IMAGENET_STATS = {
    "mean": np.array([0.485, 0.456, 0.406]).reshape(3, 1, 1),
    "std": np.array([0.229, 0.224, 0.225]).reshape(3, 1, 1),
    "min": np.zeros((3, 1, 1)),
    "max": np.ones((3, 1, 1)),
}


def policy_stats(
    dataset_stats: Mapping[str, Mapping[str, object]], config: object
) -> dict[str, Mapping[str, object]]:
    """The statistics a policy normalizes with: the dataset's, except cameras of a policy whose
    backbone starts from ImageNet weights (``pretrained_backbone_path``), which use ImageNet's."""
    out = dict(dataset_stats)
    if getattr(config, "pretrained_backbone_path", None):
        for key in getattr(config, "image_keys", []):
            out[key] = IMAGENET_STATS
    return out


def buffer_key(feature: str) -> str:
    """Module names cannot contain dots: ``observation.state`` → ``observation_state``."""
    return feature.replace(".", "_")


def stats_shape(key: str, feature: FeatureConfig) -> tuple[int, ...]:
    return (3, 1, 1) if is_image_key(key) else (int(feature.shape[0]),)


class Normalizer(nn.Module):
    """Normalizes (``forward``) and unnormalizes (``inverse``) a set of features by name."""

    def __init__(self, features: Mapping[str, FeatureConfig]) -> None:
        super().__init__()
        self.modes = {key: feat.normalization for key, feat in features.items()}
        self.stats = nn.ModuleDict()
        for key, feat in features.items():
            if feat.normalization == "identity":
                continue
            names = ("mean", "std") if feat.normalization == "mean_std" else ("min", "max")
            holder = nn.Module()
            for name in names:
                holder.register_buffer(name, torch.full(stats_shape(key, feat), float("nan")))
            self.stats[buffer_key(key)] = holder

    def set_stats(self, stats: Mapping[str, FeatureStats]) -> None:
        """Copy dataset statistics (``{feature: {"mean": ..., "std": ..., "min": ..., "max": ...}}``)."""
        for key, mode in self.modes.items():
            if mode == "identity":
                continue
            if key not in stats:
                raise KeyError(
                    f"no statistics for feature {key!r} (have: {', '.join(sorted(stats))})"
                )
            holder = self.stats[buffer_key(key)]
            for name, buf in holder.named_buffers():
                if name not in stats[key]:
                    raise KeyError(f"statistics of {key!r} have no {name!r} (mode {mode})")
                value = torch.as_tensor(np.asarray(stats[key][name]), dtype=torch.float32)
                buf.copy_(value.reshape(buf.shape))

    def _get(self, key: str) -> tuple[str, Tensor, Tensor]:
        mode = self.modes[key]
        if mode == "identity":
            return mode, torch.zeros(()), torch.ones(())
        holder = self.stats[buffer_key(key)]
        names = ("mean", "std") if mode == "mean_std" else ("min", "max")
        a, b = holder.get_buffer(names[0]), holder.get_buffer(names[1])
        if torch.isnan(a).any() or torch.isnan(b).any():
            raise RuntimeError(
                f"normalization statistics of {key!r} were never set; build the policy with "
                "dataset statistics or load it from a checkpoint"
            )
        return mode, a, b

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:  # type: ignore[override]
        """Normalize the features of ``batch`` this normalizer knows; pass the others through."""
        out = dict(batch)
        for key in self.modes:
            if key not in batch:
                continue
            mode, a, b = self._get(key)
            x = batch[key]
            if mode == "mean_std":
                out[key] = (x - a) / b.clamp(min=MIN_STD)
            elif mode == "min_max":
                out[key] = (x - a) / (b - a).clamp(min=MIN_STD) * 2.0 - 1.0
        return out

    def inverse(self, key: str, x: Tensor) -> Tensor:
        mode, a, b = self._get(key)
        if mode == "mean_std":
            return x * b.clamp(min=MIN_STD) + a
        if mode == "min_max":
            return (x + 1.0) / 2.0 * (b - a).clamp(min=MIN_STD) + a
        return x
