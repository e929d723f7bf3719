"""Virtual servo rules and virtual bus behaviour, checked at the byte level on a pty."""

from __future__ import annotations

import os
import select
import time

import pytest
import serial

from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.motors.protocol import dynamixel as dp
from bricobot.motors.protocol import feetech as fp


def _exchange(port: serial.Serial, packet: bytes, wait_s: float = 0.05) -> bytes:
    port.reset_input_buffer()
    port.write(packet)
    out = b""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([port.fileno()], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            out += os.read(port.fileno(), 4096)
    return out


@pytest.fixture
def feetech_pair():  # type: ignore[no-untyped-def]
    with VirtualBus([VirtualServo("sts3215", 1), VirtualServo("sts3215", 2)]) as vbus:
        port = serial.Serial(vbus.port, 1_000_000, timeout=0)
        yield vbus, port
        port.close()


def test_sync_read_gets_one_status_per_id_in_order(feetech_pair) -> None:  # type: ignore[no-untyped-def]
    vbus, port = feetech_pair
    vbus.servo(1).set_present(100)
    vbus.servo(2).set_present(200)
    reply = _exchange(port, fp.sync_read([2, 1], 56, 2))
    assert reply == fp.status(2, 0, (200).to_bytes(2, "little")) + fp.status(
        1, 0, (100).to_bytes(2, "little")
    )


def test_broadcast_write_gets_no_reply_but_ping_does(feetech_pair) -> None:  # type: ignore[no-untyped-def]
    vbus, port = feetech_pair
    assert _exchange(port, fp.write(fp.BROADCAST_ID, 40, b"\x01")) == b""
    assert _exchange(port, fp.ping(fp.BROADCAST_ID)) == fp.status(1) + fp.status(2)
    assert vbus.servo(1).torque_enabled and vbus.servo(2).torque_enabled


def test_servo_at_other_baudrate_is_silent() -> None:
    with VirtualBus([VirtualServo("sts3215", 1, baudrate=115_200)]) as vbus:
        port = serial.Serial(vbus.port, 1_000_000, timeout=0)
        assert _exchange(port, fp.ping(1)) == b""
        port.baudrate = 115_200
        assert _exchange(port, fp.ping(1)) == fp.status(1)
        port.close()


def test_feetech_eeprom_is_locked_until_lock_cleared(feetech_pair) -> None:  # type: ignore[no-untyped-def]
    vbus, port = feetech_pair
    _exchange(port, fp.write(1, 5, b"\x07"))  # ID, locked: ignored
    assert vbus.servo(1).id == 1
    _exchange(port, fp.write(1, 55, b"\x00"))  # unlock
    assert _exchange(port, fp.write(1, 5, b"\x07")) == fp.status(1)  # answered from the old id
    assert vbus.servo(7).id == 7


def test_feetech_homing_offset_and_goal_clamp() -> None:
    servo = VirtualServo("sts3215", 1, raw_ticks=1000, Homing_Offset=-500)
    assert servo.present_position == 1500  # Present = raw − offset
    servo = VirtualServo("sts3215", 1, raw_ticks=100, Homing_Offset=300)
    assert servo.present_position == 4096 - 200  # wraps at the seam
    servo = VirtualServo("sts3215", 1, Min_Position_Limit=1000, Max_Position_Limit=3000)
    servo.write(42, (3500).to_bytes(2, "little"))
    assert servo.goal_position == 3000


def test_dynamixel_rules() -> None:
    servo = VirtualServo("xl330-m288", 1, raw_ticks=1000, Homing_Offset=500)
    assert servo.present_position == 1500  # Present = raw + offset
    servo.write(10, b"\x01")  # reverse
    assert servo.present_position == 4095 - 1000 + 500
    assert servo.write(132, b"\x00\x00\x00\x00").error == "access"  # read-only
    servo.write(64, b"\x01")
    assert servo.write(20, b"\x00\x00\x00\x00").error == "access"  # EEPROM with torque on
    assert servo.write(116, (5000).to_bytes(4, "little")).error == "limit"


def test_motion_follows_goal_at_speed_limit() -> None:
    servo = VirtualServo("sts3215", 1, raw_ticks=0)
    servo.write(40, b"\x01")
    servo.write(42, (3000).to_bytes(2, "little"))
    servo.step(0.1)
    assert servo.present_position == pytest.approx(servo.spec.max_speed_ticks_s * 0.1, abs=1)
    servo.step(10.0)
    assert servo.present_position == 3000


class _Follower:
    """A joint source that puts each shaft exactly at its goal (or leaves it when limp)."""

    def __init__(self) -> None:
        self.calls = 0

    def step(self, goals: dict[int, float | None], dt_s: float) -> dict[int, float]:
        self.calls += 1
        return {i: g for i, g in goals.items() if g is not None}


def test_joint_source_drives_present_position() -> None:
    source = _Follower()
    servo = VirtualServo("xl330-m288", 1, baudrate=1_000_000, Homing_Offset=10)
    with VirtualBus([servo], joint_source=source) as vbus:
        port = serial.Serial(vbus.port, 1_000_000, timeout=0)
        _exchange(port, dp.write(1, 64, b"\x01"))
        _exchange(port, dp.write(1, 116, (3000).to_bytes(4, "little")))
        reply = dp.DynamixelParser().feed(_exchange(port, dp.read(1, 132, 4)))
        assert int.from_bytes(reply[0].params, "little") == 3000
        assert servo.raw_ticks == 2990  # the source works in raw ticks
        assert source.calls >= 3
        port.close()


def test_port_path_symlink(tmp_path) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / "arm"
    with VirtualBus([VirtualServo("sts3215", 1)], port_path=str(link)) as vbus:
        assert os.path.realpath(link) == vbus.port
        assert vbus.path == str(link)
    assert not link.exists()
