"""A tiny untrained ACT checkpoint for rollout tests (seconds to build, CPU)."""

from __future__ import annotations

from pathlib import Path

from bricobot.policies.act.config import ACTConfig
from bricobot.policies.base import FeatureConfig, Policy
from bricobot.policies.checkpoint import make_policy, save_policy
from bricobot.robots.base import Robot
from tests.fakes.policy_batches import make_stats


def tiny_act(robot: Robot, chunk_size: int = 5, image_size: list[int] | None = None) -> Policy:
    """An untrained ACT whose features are ``robot``'s (seeing images at ``image_size``, if given)."""
    state = [k for k, v in robot.observation_features.items() if not isinstance(v, tuple)]
    inputs = {"observation.state": FeatureConfig(shape=[len(state)], names=state)}
    for name in robot.camera_names:
        h, w, _ = robot.observation_features[name]  # type: ignore[misc]
        inputs[f"observation.images.{name}"] = FeatureConfig(shape=[h, w, 3])
    actions = list(robot.action_features)
    outputs = {"action": FeatureConfig(shape=[len(actions)], names=actions)}
    config = ACTConfig(
        input_features=inputs,
        output_features=outputs,
        chunk_size=chunk_size,
        n_action_steps=chunk_size,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        use_vae=False,
        backbone_width=8,
        image_size=image_size or [],
    )
    return make_policy(config, make_stats(inputs, outputs))


def tiny_act_checkpoint(
    robot: Robot, directory: Path, chunk_size: int = 5, image_size: list[int] | None = None
) -> Path:
    """Save :func:`tiny_act` for ``robot`` in ``directory``; return the checkpoint folder."""
    return save_policy(tiny_act(robot, chunk_size, image_size), directory)
