"""Six-servo virtual arms (Feetech and Dynamixel) on real pseudo-terminals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.motors.bus import Motor, MotorBus
from bricobot.motors.dynamixel import DynamixelBus
from bricobot.motors.feetech import FeetechBus

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
MODEL = {"feetech": "sts3215", "dynamixel": "xl330-m288"}
BUS = {"feetech": FeetechBus, "dynamixel": DynamixelBus}


def make_servos(family: str, baudrate: int = 1_000_000) -> list[VirtualServo]:
    return [VirtualServo(MODEL[family], i + 1, baudrate=baudrate) for i in range(len(JOINTS))]


def make_bus(family: str, port: str, **kwargs) -> MotorBus:  # type: ignore[no-untyped-def]
    motors = [Motor(name, i + 1, MODEL[family]) for i, name in enumerate(JOINTS)]
    return BUS[family](port, motors, **kwargs)


@pytest.fixture(params=["feetech", "dynamixel"])
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def virtual_arm(family: str) -> Iterator[VirtualBus]:
    with VirtualBus(make_servos(family)) as vbus:
        yield vbus


@pytest.fixture
def arm(family: str, virtual_arm: VirtualBus) -> Iterator[MotorBus]:
    bus = make_bus(family, virtual_arm.port, timeout_s=0.05)  # generous: CI cores are shared
    bus.connect()
    yield bus
    bus.close()
