"""Registers the runtime's fake robot and teleoperator for one test (restored afterwards)."""

from __future__ import annotations

import pytest

from bricobot.registry import RegistryEntry
from bricobot.robots.registry import ROBOTS
from bricobot.teleop.registry import TELEOPERATORS
from tests.fakes.runtime_devices import ConfiguredFakeRobot


def register_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        ROBOTS,
        "fake_arm",
        RegistryEntry(
            config="tests.fakes.runtime_devices:FakeRobotConfig",
            impl="tests.fakes.runtime_devices:ConfiguredFakeRobot",
        ),
    )
    monkeypatch.setitem(
        TELEOPERATORS,
        "fake_teleop",
        RegistryEntry(
            config="tests.fakes.runtime_devices:FakeTeleopConfig",
            impl="tests.fakes.runtime_devices:ConfiguredFakeTeleop",
        ),
    )
    ConfiguredFakeRobot.built.clear()
