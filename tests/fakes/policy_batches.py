"""Synthetic features, statistics and batches for policy and trainer tests (no sim, no dataset)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bricobot.policies.base import FeatureConfig

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def make_features(
    cameras: tuple[str, ...] = ("front",), image_hw: tuple[int, int] = (32, 32), dim: int = 6
) -> tuple[dict[str, FeatureConfig], dict[str, FeatureConfig]]:
    names = [f"{j}.pos" for j in JOINTS[:dim]]
    inputs = {"observation.state": FeatureConfig(shape=[dim], names=list(names))}
    for cam in cameras:
        inputs[f"observation.images.{cam}"] = FeatureConfig(shape=[*image_hw, 3])
    outputs = {"action": FeatureConfig(shape=[dim], names=list(names))}
    return inputs, outputs


def make_stats(
    inputs: dict[str, FeatureConfig], outputs: dict[str, FeatureConfig]
) -> dict[str, dict[str, np.ndarray]]:
    stats: dict[str, dict[str, np.ndarray]] = {}
    for key, feat in {**inputs, **outputs}.items():
        n = 3 if key.startswith("observation.images.") else feat.shape[0]
        stats[key] = {
            "mean": np.full(n, 0.5 if n == 3 else 10.0, np.float32),
            "std": np.full(n, 0.25 if n == 3 else 20.0, np.float32),
            "min": np.full(n, 0.0 if n == 3 else -40.0, np.float32),
            "max": np.full(n, 1.0 if n == 3 else 60.0, np.float32),
        }
    return stats


def make_batch(
    config: Any, batch_size: int = 4, seed: int = 0, n_obs_steps: int = 1
) -> dict[str, torch.Tensor]:
    """A training batch shaped as the trainer's data gives it for ``config``."""
    g = torch.Generator().manual_seed(seed)
    batch: dict[str, torch.Tensor] = {}
    lead = (batch_size, n_obs_steps) if n_obs_steps > 1 else (batch_size,)
    for key, feat in config.input_features.items():
        if key.startswith("observation.images."):
            h, w, _ = feat.shape
            batch[key] = torch.rand(*lead, 3, h, w, generator=g)
        else:
            batch[key] = 10 + 20 * torch.randn(*lead, feat.shape[0], generator=g)
    horizon = len(config.action_delta_indices)
    batch["action"] = 10 + 20 * torch.randn(batch_size, horizon, config.action_dim, generator=g)
    pad = torch.zeros(batch_size, horizon, dtype=torch.bool)
    pad[0, horizon // 2 :] = True
    batch["action_is_pad"] = pad
    return batch


def observation(config: Any, batch_size: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    """One policy input (no time dimension), as ``observation_to_batch`` makes it."""
    g = torch.Generator().manual_seed(seed)
    obs: dict[str, torch.Tensor] = {}
    for key, feat in config.input_features.items():
        if key.startswith("observation.images."):
            h, w, _ = feat.shape
            obs[key] = torch.rand(batch_size, 3, h, w, generator=g)
        else:
            obs[key] = 10 + 20 * torch.randn(batch_size, feat.shape[0], generator=g)
    return obs


def tiny_act_config(**overrides: Any) -> Any:
    """An ACT config small enough for a unit test (features filled in)."""
    from bricobot.policies.act.config import ACTConfig

    inputs, outputs = make_features()
    kwargs: dict[str, Any] = dict(
        input_features=inputs,
        output_features=outputs,
        chunk_size=8,
        n_action_steps=4,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_vae_encoder_layers=1,
        latent_dim=8,
        backbone_width=8,
        backbone_norm="group",
        backbone_small_input=True,
        batch_size=4,
    )
    kwargs.update(overrides)
    return ACTConfig(**kwargs)


def tiny_diffusion_config(**overrides: Any) -> Any:
    """A Diffusion Policy config small enough for a unit test (features filled in)."""
    from bricobot.policies.diffusion.config import DiffusionConfig

    inputs, outputs = make_features()
    kwargs: dict[str, Any] = dict(
        input_features=inputs,
        output_features=outputs,
        horizon=8,
        n_action_steps=4,
        down_dims=[16, 32],
        n_groups=4,
        diffusion_step_embed_dim=16,
        backbone_width=8,
        spatial_softmax_num_keypoints=4,
        backbone_small_input=True,
        num_inference_steps=4,
        batch_size=4,
    )
    kwargs.update(overrides)
    return DiffusionConfig(**kwargs)
