"""The gymnasium env: env checker, spaces keyed by dataset feature names, determinism, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import bricobot.envs  # noqa: F401  (registers the ids)

ENV_ID = "bricobot/SO101PickCube-v0"


@pytest.mark.parametrize("cameras", [[], ["front", "wrist"]], ids=["state-only", "two-cameras"])
def test_env_checker_passes(cameras: list[str]) -> None:
    env = gym.make(
        ENV_ID, cameras=cameras, image_height=48, image_width=64, render_mode="rgb_array"
    )
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"observation.state", *(f"observation.images.{c}" for c in cameras)}
    assert obs["observation.state"].dtype == np.float32 and obs["observation.state"].shape == (6,)
    for cam in cameras:
        image = obs[f"observation.images.{cam}"]
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8 and image.std() > 5
    assert info["is_success"] is False and set(info["reward_terms"]) >= {"reach", "grasp", "lift"}
    frame = env.render()
    assert frame is not None and frame.shape == (48, 64, 3)
    env.close()


def test_same_seed_same_trajectory() -> None:
    def rollout() -> np.ndarray:
        env = gym.make(ENV_ID, cameras=["front"], image_height=32, image_width=32)
        obs, _ = env.reset(seed=42)
        rng = np.random.default_rng(0)
        states, images = [obs["observation.state"]], [obs["observation.images.front"]]
        for _ in range(10):
            action = env.action_space.low + rng.random(6) * (
                env.action_space.high - env.action_space.low
            )
            obs, *_ = env.step(action.astype(np.float32))
            states.append(obs["observation.state"])
            images.append(obs["observation.images.front"])
        env.close()
        return np.concatenate([np.ravel(states), np.ravel(images).astype(np.float32)])

    assert np.array_equal(rollout(), rollout())


def test_episode_truncates_at_its_length() -> None:
    env = gym.make(ENV_ID, cameras=[], episode_length=5)
    obs, _ = env.reset(seed=0)
    truncated = False
    for step in range(5):
        obs, _, terminated, truncated, _ = env.step(obs["observation.state"])
        assert not terminated
        assert truncated == (step == 4)


@pytest.mark.parametrize(
    ("action", "message"),
    [(np.full(6, np.nan, np.float32), "non-finite"), (np.zeros(7, np.float32), "shape")],
)
def test_bad_actions_raise_value_error(action: np.ndarray, message: str) -> None:
    env = gym.make(ENV_ID, cameras=[])
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_unknown_camera_and_config_key_are_named() -> None:
    with pytest.raises(ValueError, match="unknown camera 'top'"):
        gym.make(ENV_ID, cameras=["top"])
    with pytest.raises(ValueError, match="valid keys"):
        gym.make(ENV_ID, camera=["front"])
