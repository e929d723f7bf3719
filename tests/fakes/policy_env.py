"""A tiny gymnasium env for evaluation tests: move a 6-D point to a target shown in an image.

Observations use the policy feature names (``observation.state``, ``observation.images.front``);
``info["is_success"]`` is reported every step, as the sim tasks do. A scripted expert solves it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from bricobot.policies.base import FeatureConfig

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
IMAGE_HW = (32, 32)


class ReachEnv(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, max_steps: int = 20) -> None:
        self.render_mode = render_mode
        names = [f"{j}.pos" for j in JOINTS]
        self.features = {
            "observation.state": FeatureConfig(shape=[6], names=names),
            "observation.images.front": FeatureConfig(shape=[*IMAGE_HW, 3]),
            "action": FeatureConfig(shape=[6], names=names),
        }
        self.observation_space = gym.spaces.Dict(
            {
                "observation.state": gym.spaces.Box(-100, 100, (6,), np.float32),
                "observation.images.front": gym.spaces.Box(0, 255, (*IMAGE_HW, 3), np.uint8),
            }
        )
        self.action_space = gym.spaces.Box(-100, 100, (6,), np.float32)
        self.max_steps = max_steps
        self.state = np.zeros(6, np.float32)
        self.target = np.zeros(6, np.float32)
        self.t = 0

    def _obs(self) -> dict[str, Any]:
        image = np.zeros((*IMAGE_HW, 3), np.uint8)
        # The target's first two coordinates as a bright square: the policy must look at it.
        r = int(np.clip(16 + self.target[0] / 4, 2, 29))
        c = int(np.clip(16 + self.target[1] / 4, 2, 29))
        image[r - 2 : r + 2, c - 2 : c + 2] = 255
        return {"observation.state": self.state.copy(), "observation.images.front": image}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self.state = np.zeros(6, np.float32)
        self.target = np.zeros(6, np.float32)
        self.target[:2] = self.np_random.uniform(-40, 40, 2)
        self.t = 0
        return self._obs(), {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        delta = np.clip(np.asarray(action, np.float32) - self.state, -8, 8)
        self.state = self.state + delta
        self.t += 1
        dist = float(np.abs(self.state - self.target).max())
        success = dist < 5.0  # the image shows the target to within 4 units
        return self._obs(), -dist, success, self.t >= self.max_steps, {"is_success": success}

    def render(self) -> np.ndarray:
        return np.repeat(np.repeat(self._obs()["observation.images.front"], 4, 0), 4, 1)

    def expert_action(self) -> np.ndarray:
        return self.target.copy()


class ReachExpert:
    """The scripted expert of :class:`ReachEnv` (``reset``/``act``, as the demo pipeline expects)."""

    def __init__(self, env: ReachEnv) -> None:
        self.env = env

    def reset(self) -> None:
        pass

    def act(self) -> np.ndarray:
        return self.env.expert_action()


def reach_expert(env: gym.Env) -> ReachExpert:
    return ReachExpert(env.unwrapped)  # type: ignore[arg-type]
