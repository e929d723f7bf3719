"""Gymnasium view of a task: observations keyed by dataset feature names.

``observation.state`` float32 (6,) in robot units (degrees; gripper percent open) and
``observation.images.<camera>`` uint8 (H, W, 3); actions are float32 (6,) absolute joint targets in the
same units. ``info`` carries ``is_success`` and every reward term.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from bricobot.envs.registry import ENVS
from bricobot.envs.task import Task, TaskConfig
from bricobot.loading import from_dict
from bricobot.registry import lookup

#: Margin (robot units) of the state space beyond the joint limits: contacts push joints slightly past them.
STATE_MARGIN = 20.0


class TaskEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A :class:`~bricobot.envs.task.Task` as a ``gymnasium.Env``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}  # noqa: RUF012

    def __init__(
        self,
        task: str = "so101_pick_cube",
        config: TaskConfig | dict[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        entry = lookup(ENVS, "env task", task)
        config_cls = entry.config_class()
        if config is None:
            config = from_dict(config_cls, {"type": task, **overrides})
        elif isinstance(config, dict):
            config = from_dict(config_cls, {**config, **overrides})
        elif overrides:
            raise ValueError(f"pass overrides inside config, not both: {sorted(overrides)}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.task: Task = entry.impl_class()(config)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": config.control_hz}
        low = self.task.limits_low.astype(np.float32)
        high = self.task.limits_high.astype(np.float32)
        self.action_space = spaces.Box(low, high, dtype=np.float32)
        state_space = spaces.Box(low - STATE_MARGIN, high + STATE_MARGIN, dtype=np.float32)
        obs_spaces: dict[str, spaces.Space[Any]] = {"observation.state": state_space}
        shape = (config.image_height, config.image_width, 3)
        for cam in config.cameras:
            obs_spaces[f"observation.images.{cam}"] = spaces.Box(0, 255, shape, dtype=np.uint8)
        self.observation_space = spaces.Dict(obs_spaces)  # type: ignore[assignment]

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {"observation.state": self.task.joint_positions().astype(np.float32)}
        for cam, image in self.task.images().items():
            obs[f"observation.images.{cam}"] = image
        return obs

    def _info(self) -> dict[str, Any]:
        reward, terms = self.task.reward()
        return {"is_success": self.task.is_success(), "reward_terms": terms, "reward": reward}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        # Without an explicit seed, draw one from gymnasium's seeded generator (reproducible).
        task_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self.task.reset(task_seed)
        return self._observation(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self.task.step(action)
        info = self._info()
        return self._observation(), info["reward"], False, self.task.truncated, info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode != "rgb_array":
            return None
        camera = self.task.config.cameras[0] if self.task.config.cameras else "front"
        return self.task.render(camera)

    def close(self) -> None:
        self.task.close()
