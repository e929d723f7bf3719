"""Test doubles for the runtime: a robot that records torque state, a teleoperator, a sink.

``FakeRobot`` mimics what the real arms promise: ``send_action`` returns what was applied, and
``disconnect()`` leaves torque as its ``on_exit`` mode says (``"hold"``, ``"park"``,
``"release"``); ``release_torque()`` cuts it at once. Timing effects use the injected clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from bricobot.robots.base import FeatureSpec, Robot
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.sinks import LoopFrame
from bricobot.teleop.base import Teleoperator

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

__all__ = [
    "JOINTS",
    "ConfiguredFakeRobot",
    "ConfiguredFakeTeleop",
    "FakeClock",
    "FakeRobot",
    "FakeRobotConfig",
    "FakeSink",
    "FakeTeleop",
    "FakeTeleopConfig",
]


class FakeRobot(Robot):
    """A 6-joint arm with optional cameras whose state follows the last action sent."""

    robot_type = "fake_arm"

    def __init__(
        self,
        clock: FakeClock | None = None,
        cameras: dict[str, tuple[int, int, int]] | None = None,
        on_exit: str = "hold",
        read_time_s: float = 0.0,
        send_time_s: float = 0.0,
        fail_at_step: int | None = None,
        park_time_s: float = 0.0,
        on_park: Callable[[], None] | None = None,
    ) -> None:
        """``on_park``: called as a slow park starts (a test waits for it before interrupting)."""
        super().__init__()
        self.clock = clock
        self.cameras = dict(cameras or {})
        self.on_exit = on_exit
        self.read_time_s = read_time_s
        self.send_time_s = send_time_s
        self.fail_at_step = fail_at_step
        self.park_time_s = park_time_s
        self.on_park = on_park
        self.connected = False
        self.torque_on = False
        self.parked = False
        self.positions = dict.fromkeys(JOINTS, 0.0)
        self.sent: list[dict[str, float]] = []
        self.reads = 0
        self.events: list[str] = []

    @property
    def observation_features(self) -> FeatureSpec:
        features: FeatureSpec = {f"{j}.pos": float for j in JOINTS}
        features.update(self.cameras)
        return features

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in JOINTS}

    @property
    def is_connected(self) -> bool:
        return self.connected

    def connect(self) -> None:
        self.connected = True
        self.torque_on = True
        self.events.append("connect")

    def _elapse(self, dt_s: float) -> None:
        if dt_s and self.clock is not None:
            self.clock.advance(dt_s)

    def get_observation(self) -> dict[str, Any]:
        self._elapse(self.read_time_s)
        if self.fail_at_step is not None and self.reads >= self.fail_at_step:
            raise RuntimeError(f"fake failure at step {self.reads}")
        self.reads += 1
        obs: dict[str, Any] = {f"{j}.pos": v for j, v in self.positions.items()}
        for name, shape in self.cameras.items():
            obs[name] = np.full(shape, self.reads % 256, dtype=np.uint8)
        now = self.clock.now() if self.clock is not None else time.monotonic()
        self.capture_times_s = {"observation.state": now, **dict.fromkeys(self.cameras, now)}
        return obs

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        self._elapse(self.send_time_s)
        sent = {k: float(v) for k, v in action.items()}
        self.sent.append(sent)
        self.positions = {k.removesuffix(".pos"): v for k, v in sent.items()}
        return sent

    def release_torque(self) -> None:
        self.torque_on = False
        self.connected = False
        self.events.append("release")

    def disconnect(self) -> None:
        self.events.append(f"disconnect:{self.on_exit}")
        if self.on_exit == "park":
            if self.park_time_s:
                if self.on_park is not None:
                    self.on_park()
                time.sleep(self.park_time_s)  # a slow park that a second Ctrl-C can interrupt
            self.parked = True
            self.torque_on = False
        elif self.on_exit == "release":
            self.torque_on = False
        self.connected = False


class FakeTeleop(Teleoperator):
    """Commands a ramp: joint ``i`` goes to ``step + i`` degrees at each call."""

    def __init__(self) -> None:
        self.connected = False
        self.calls = 0
        self.resets = 0
        self.override: dict[str, float] | None = None

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in JOINTS}

    @property
    def is_connected(self) -> bool:
        return self.connected

    def connect(self) -> None:
        self.connected = True

    def get_action(self) -> dict[str, float]:
        self.calls += 1
        if self.override is not None:
            return dict(self.override)
        return {f"{j}.pos": float(self.calls + i) for i, j in enumerate(JOINTS)}

    def reset(self) -> None:
        self.resets += 1

    def disconnect(self) -> None:
        self.connected = False


class FakeSink:
    """Records frames and the thread that consumed them; can be slow or fail on a frame."""

    def __init__(self, delay_s: float = 0.0, fail_at: int | None = None) -> None:
        self.frames: list[LoopFrame] = []
        self.threads: set[int] = set()
        self.delay_s = delay_s
        self.fail_at = fail_at
        self.release = threading.Event()
        self.release.set()

    def add_frame(self, frame: LoopFrame) -> None:
        self.threads.add(threading.get_ident())
        self.release.wait()
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_at is not None and len(self.frames) >= self.fail_at:
            raise OSError("disk full (fake)")
        self.frames.append(frame)


@dataclass
class FakeRobotConfig:
    """Config of :class:`ConfiguredFakeRobot`, so commands can build it through a registry."""

    type: str = "fake_arm"
    on_exit: str = "hold"
    #: Camera name → [H, W, 3].
    cameras: dict[str, list[int]] = field(default_factory=dict)
    fail_at_step: int | None = None


class ConfiguredFakeRobot(FakeRobot):
    """A :class:`FakeRobot` built from a :class:`FakeRobotConfig` on real time."""

    #: Every robot built, so tests can inspect what a command did with it.
    built: ClassVar[list[ConfiguredFakeRobot]] = []

    def __init__(self, config: FakeRobotConfig) -> None:
        cams = {name: (int(s[0]), int(s[1]), int(s[2])) for name, s in config.cameras.items()}
        super().__init__(cameras=cams, on_exit=config.on_exit, fail_at_step=config.fail_at_step)
        ConfiguredFakeRobot.built.append(self)


@dataclass
class FakeTeleopConfig:
    type: str = "fake_teleop"


class ConfiguredFakeTeleop(FakeTeleop):
    def __init__(self, config: FakeTeleopConfig) -> None:
        super().__init__()
