"""SimRobot: a MuJoCo task exposed as a robot, for the real-time loop, recording and rollout.

Observations and actions use the same keys and units as the real arm (``"<joint>.pos"`` in degrees
from the zero pose, gripper percent open; camera images uint8 H×W×3), so anything that drives an
SO-101 drives its twin. ``send_action`` checks keys and values, clips to the joint limits, steps the
physics for one control period and returns the action actually applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bricobot.envs.registry import ENVS
from bricobot.envs.task import Task
from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.features import STATE_KEY
from bricobot.loading import from_dict
from bricobot.registry import lookup
from bricobot.robots.base import FeatureSpec, Robot


@dataclass
class SimRobotConfig:
    """Which task to simulate, its settings, and the seed of the first episode."""

    type: str = "so101_sim"
    task: str = "so101_pick_cube"
    #: Overrides of the task's config (e.g. ``{"cameras": ["front"], "image_height": 240}``).
    task_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        lookup(ENVS, "env task", self.task)


class SimRobot(Robot):
    """A simulated arm; each ``connect()``/``reset_episode()`` starts a new seeded episode."""

    robot_type = "so101_sim"

    def __init__(self, config: SimRobotConfig) -> None:
        super().__init__()
        self.config = config
        entry = lookup(ENVS, "env task", config.task)
        task_config: Any = from_dict(
            entry.config_class(), {"type": config.task, **config.task_config}
        )
        self.task: Task = entry.impl_class()(task_config)
        #: What datasets and the policy server are told: the simulated arm, e.g. ``koch_sim``.
        arms = "bimanual_" if len(self.task.arm_prefixes) > 1 else ""
        self.robot_type = f"{arms}{self.task.robot}_sim"
        self._connected = False
        self._episode = 0
        #: Source of capture times; a recording on the simulation's clock sets its ``now``.
        self.time_source: Callable[[], float] = time.monotonic

    @property
    def observation_features(self) -> FeatureSpec:
        cfg = self.task.config
        features: FeatureSpec = {f"{j}.pos": float for j in self.task.joint_names}
        for cam in cfg.cameras:
            features[cam] = (cfg.image_height, cfg.image_width, 3)
        return features

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in self.task.joint_names}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError("SimRobot is already connected")
        self._connected = True
        self.reset_episode()

    @property
    def control_hz(self) -> int:
        """Each action steps 1/control_hz s of the task's physics."""
        return int(self.task.config.control_hz)

    def reset_episode(self, seed: int | None = None) -> None:
        """Start a new episode: seed ``config.seed + n`` for the n-th, unless ``seed`` is given."""
        self._require_connected()
        self.task.reset(self.config.seed + self._episode if seed is None else seed)
        self._episode += 1

    def get_observation(self) -> dict[str, Any]:
        self._require_connected()
        now = self.time_source()
        obs: dict[str, Any] = dict(
            zip(self.action_features, self.task.joint_positions().tolist(), strict=True)
        )
        self.capture_times_s = {STATE_KEY: now}
        for cam in self.task.config.cameras:
            obs[cam] = self.task.render(cam)
            self.capture_times_s[cam] = self.time_source()
        return obs

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        self._require_connected()
        expected = list(self.action_features)
        if set(action) != set(expected):
            missing = sorted(set(expected) - set(action))
            extra = sorted(set(action) - set(expected))
            raise ValueError(
                f"action keys do not match the robot: missing {missing}, unexpected {extra}"
            )
        values = np.array([action[key] for key in expected], dtype=np.float64)
        applied = self.task.step(values)
        return dict(zip(expected, applied.tolist(), strict=True))

    def disconnect(self) -> None:
        self._require_connected()
        self.task.close()
        self._connected = False

    def _require_connected(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError("SimRobot is not connected: call connect() first")
