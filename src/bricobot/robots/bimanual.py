"""Two arms as one robot: every key of the left arm is prefixed ``left_``, of the right ``right_``.

Each arm is any registered robot config (``so101``, ``koch``, …); cameras can sit on either arm
(``left_<camera>``) or on the pair (``cameras``, unprefixed). An action is validated as a whole
(exact keys, finite values) before either arm moves, so a bad value for one arm never leaves the
other half-commanded; then each arm applies its own limits and motion cap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bricobot.cameras.base import Camera
from bricobot.cameras.building import make_cameras, read_frame
from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.loading import from_dict
from bricobot.registry import lookup, make
from bricobot.robots.base import FeatureSpec, Robot
from bricobot.robots.safety import ActionSafety

logger = logging.getLogger(__name__)

SIDES = ("left", "right")


def robot_config(label: str, value: Any) -> Any:
    """A typed robot config from a dataclass or a ``{"type": ..., ...}`` mapping."""
    from bricobot.robots.registry import ROBOTS

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        entry = lookup(ROBOTS, "robot", value["type"])
        return from_dict(entry.config_class(), dict(value), path=label)
    raise ValueError(f"{label}: expected a robot config with a 'type' (e.g. so101), got {value!r}")


@dataclass
class BimanualConfig:
    """Two follower arms and optional shared cameras."""

    type: str = "bimanual"
    left: Any = None  # robot config of the left arm (e.g. {type: so101, port: ..., name: left})
    right: Any = None
    cameras: dict[str, Any] = field(default_factory=dict)  # cameras not mounted on either arm

    def __post_init__(self) -> None:
        if self.type != "bimanual":
            raise ValueError(f"type must be 'bimanual', got {self.type!r}")


class Bimanual(Robot):
    """Two arms behind one Robot interface; see the module docstring."""

    robot_type = "bimanual"

    def __init__(self, config: BimanualConfig) -> None:
        super().__init__()
        from bricobot.robots.registry import ROBOTS

        self.config = config
        for side in SIDES:
            if getattr(config, side) is None:
                raise ValueError(
                    f"robot.{side} must be a robot config (e.g. {{type: so101, port: ...}})"
                )
        self.arms: dict[str, Robot] = {
            side: make(ROBOTS, "robot", robot_config(side, getattr(config, side))) for side in SIDES
        }
        self.robot_type = "bimanual_" + "_".join(
            dict.fromkeys(arm.robot_type for arm in self.arms.values())
        )
        self.cameras: dict[str, Camera] = make_cameras(config.cameras)
        self._validator = ActionSafety(list(self.action_features))
        self._connected = False

    @property
    def action_features(self) -> FeatureSpec:
        return {
            f"{side}_{k}": v
            for side, arm in self.arms.items()
            for k, v in arm.action_features.items()
        }

    @property
    def observation_features(self) -> FeatureSpec:
        features: FeatureSpec = {}
        for side, arm in self.arms.items():
            joints = {k: v for k, v in arm.observation_features.items() if not isinstance(v, tuple)}
            features.update({f"{side}_{k}": v for k, v in joints.items()})
        for side, arm in self.arms.items():
            cams = {k: v for k, v in arm.observation_features.items() if isinstance(v, tuple)}
            features.update({f"{side}_{k}": v for k, v in cams.items()})
        for name, camera in self.cameras.items():
            features[name] = tuple(camera.shape)
        return features

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError("bimanual robot is already connected")
        done: list[Robot] = []
        try:
            for arm in self.arms.values():
                arm.connect()
                done.append(arm)
            for camera in self.cameras.values():
                camera.connect()
        except BaseException:
            for arm in done:
                with contextlib.suppress(Exception):
                    arm.disconnect()
            for camera in self.cameras.values():
                if camera.is_connected:
                    with contextlib.suppress(Exception):
                        camera.disconnect()
            raise
        self._connected = True

    def _require(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError("bimanual robot is not connected; call connect()")

    def get_observation(self) -> dict[str, Any]:
        self._require()
        observation: dict[str, Any] = {}
        times: dict[str, float] = {}
        state_times = []
        for side, arm in self.arms.items():
            for key, value in arm.get_observation().items():
                observation[f"{side}_{key}"] = value
            for key, t in arm.capture_times_s.items():
                if key == "observation.state":
                    state_times.append(t)
                else:
                    times[f"{side}_{key}"] = t
        for name, camera in self.cameras.items():
            frame = read_frame(camera)
            observation[name] = frame.image
            times[name] = frame.capture_time_s
        times["observation.state"] = (
            sum(state_times) / len(state_times) if state_times else time.monotonic()
        )
        self.capture_times_s = times
        ordered = {k: observation[k] for k in self.observation_features if k in observation}
        return ordered

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        self._require()
        self._validator.validate(action)  # whole action first: neither arm moves on a bad value
        sent: dict[str, float] = {}
        for side, arm in self.arms.items():
            prefix = f"{side}_"
            part = {k.removeprefix(prefix): v for k, v in action.items() if k.startswith(prefix)}
            for key, value in arm.send_action(part).items():
                sent[prefix + key] = value
        return sent

    def release_torque(self) -> None:
        """Both arms limp now."""
        for arm in self.arms.values():
            arm.release_torque()

    def disconnect(self) -> None:
        self._require()
        for camera in self.cameras.values():
            if camera.is_connected:
                try:
                    camera.disconnect()
                except Exception as exc:
                    logger.warning("camera %s: %s", camera.name, exc)
        errors = []
        for side, arm in self.arms.items():
            try:
                if arm.is_connected:
                    arm.disconnect()
            except Exception as exc:
                errors.append(f"{side} arm: {exc}")
        self._connected = False
        if errors:
            raise RuntimeError("; ".join(errors))
