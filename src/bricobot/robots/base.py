"""The Robot interface: what the control loop, recorder and policies see of any arm.

A robot declares its features, connects, reports observations (joint positions in degrees from the
model's zero pose, gripper in percent open, camera images as uint8 H×W×3 RGB) and applies actions.
``send_action`` returns the action actually applied after safety checks and clipping, so recorders
store the truth, not the request.
"""

from __future__ import annotations

import abc
from typing import Any

FeatureSpec = dict[str, type | tuple[int, ...]]
"""Feature name → ``float`` for a scalar, or a shape tuple ``(H, W, 3)`` for a camera image."""


class Robot(abc.ABC):
    """Base class of every robot, real or simulated. Use as a context manager to always disconnect."""

    #: Short name stored in datasets as ``robot_type`` (e.g. ``"so101_follower"``).
    robot_type: str = "robot"

    def __init__(self) -> None:
        #: Monotonic capture time (s) of each part of the last observation, keyed by feature name
        #: (joint state under ``"observation.state"``, cameras under their camera name).
        self.capture_times_s: dict[str, float] = {}

    @property
    @abc.abstractmethod
    def observation_features(self) -> FeatureSpec:
        """``"<joint>.pos" -> float`` for each joint, then ``"<camera>" -> (H, W, 3)`` per camera."""

    @property
    @abc.abstractmethod
    def action_features(self) -> FeatureSpec:
        """``"<joint>.pos" -> float`` for each commanded joint, in observation order."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool: ...

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the device. Real arms set each goal to the present position before enabling torque."""

    @abc.abstractmethod
    def get_observation(self) -> dict[str, Any]:
        """Read the state and cameras; values keyed as in :attr:`observation_features`."""

    @abc.abstractmethod
    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        """Check and apply ``action``; return the action actually sent (after clipping)."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Leave the device in its configured safe state and release it."""

    # --- optional capabilities: declared here, overridden where a robot has them -----------

    @property
    def control_hz(self) -> int | None:
        """Actions per second of simulated time for a simulated robot (each action steps
        1/control_hz s of physics); None for a real arm, whose time is the wall clock's."""
        return None

    def reset_episode(self) -> None:  # noqa: B027 - optional hook; real arms: the operator resets
        """Start a new episode's scene (a simulated robot re-seeds its task); real arms do nothing."""

    def release_torque(self) -> None:
        """Cut torque on every motor now, without parking (the second Ctrl-C). Robots without
        motors of their own simply disconnect."""
        self.disconnect()

    @property
    def joint_names(self) -> list[str]:
        """Joint names in action order, from ``"<joint>.pos"`` keys."""
        return [key.removesuffix(".pos") for key in self.action_features]

    @property
    def camera_names(self) -> list[str]:
        return [key for key, spec in self.observation_features.items() if isinstance(spec, tuple)]

    def __enter__(self) -> Robot:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_connected:
            self.disconnect()
