"""MotorBus drivers (Feetech, Dynamixel) against the emulators over real pseudo-terminals."""

from __future__ import annotations

import errno
import re
import time

import pytest

from bricobot.emulation import Faults, VirtualBus, VirtualServo
from bricobot.motors.bus import Motor, MotorBus
from bricobot.motors.errors import (
    BaudRateError,
    DuplicateIdError,
    LateReplyError,
    ModelMismatchError,
    MotorNotFoundError,
    NoReplyError,
    PortNotFoundError,
    PortPermissionError,
    RegisterError,
    ServoError,
    late_reply_fix,
    no_reply_fix,
)
from bricobot.motors.feetech import FeetechBus

from .conftest import BUS, JOINTS, MODEL, make_bus, make_servos


def test_sync_read_returns_every_motor_by_name(arm: MotorBus, virtual_arm: VirtualBus) -> None:
    virtual_arm.servo(3).set_present(1234)
    positions = arm.sync_read("Present_Position")
    assert list(positions) == JOINTS
    assert positions["elbow_flex"] == 1234


def test_sync_write_moves_joints_at_limited_speed(arm: MotorBus, virtual_arm: VirtualBus) -> None:
    arm.enable_torque()
    arm.sync_write("Goal_Position", dict.fromkeys(JOINTS, 1000))
    first = arm.sync_read("Present_Position")
    assert all(v > 1000 for v in first.values())  # on its way, not teleported
    virtual_arm.advance(2.0)
    assert arm.sync_read("Present_Position") == dict.fromkeys(JOINTS, 1000)


def test_read_write_by_register_name(arm: MotorBus) -> None:
    arm.write("Homing_Offset", "gripper", -321)
    assert arm.read("Homing_Offset", "gripper") == -321
    assert arm.read("Model_Number", "gripper") == arm.motors["gripper"].spec.model_number


def test_unknown_register_and_motor_are_named(arm: MotorBus) -> None:
    with pytest.raises(RegisterError, match=r"no register 'Present_Pos'.*Present_Position"):
        arm.read("Present_Pos", "gripper")
    with pytest.raises(RegisterError, match=r"no motor called 'grip'"):
        arm.read("Present_Position", "grip")
    with pytest.raises(RegisterError, match=r"read-only"):
        arm.write("Present_Position", "gripper", 5)


def test_enable_torque_holds_present_position(arm: MotorBus, virtual_arm: VirtualBus) -> None:
    virtual_arm.servo(1).set_present(3000)  # stale goal stays at 2048
    arm.enable_torque()
    virtual_arm.advance(1.0)
    assert arm.read("Present_Position", "shoulder_pan") == 3000


def test_torque_disabled_context_restores(arm: MotorBus) -> None:
    arm.enable_torque()
    with arm.torque_disabled():
        assert set(arm.sync_read("Torque_Enable").values()) == {0}
    assert set(arm.sync_read("Torque_Enable").values()) == {1}


def test_health_names_overload(arm: MotorBus, virtual_arm: VirtualBus) -> None:
    arm.enable_torque()
    virtual_arm.faults.overload.add(6)
    health = arm.read_health()
    assert health["shoulder_pan"].errors == []
    assert health["shoulder_pan"].temperature_c == 30
    assert any("overload" in e for e in health["gripper"].errors)
    assert health["gripper"].temperature_c > 70
    assert arm.read("Torque_Enable", "gripper") == 0  # the servo protects itself
    assert arm.alerts["gripper"]  # status packets carried the alert too


def test_reads_survive_lost_and_corrupted_replies(family: str) -> None:
    faults = Faults(drop_rate=0.01, corrupt_rate=0.01, seed=1)  # 2 % of status packets bad
    with VirtualBus(make_servos(family), faults=faults) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.05)  # default retries
        bus.connect()
        for _ in range(1000):
            assert len(bus.sync_read("Present_Position")) == 6
        bus.close()
    assert vbus.counts["dropped"] > 0 and vbus.counts["corrupted"] > 0
    assert bus.stats["retries"] > 0


def test_unplugged_motor_is_named(family: str) -> None:
    with VirtualBus(make_servos(family)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.005)
        bus.connect()
        vbus.faults.unplugged.add(4)
        start = time.monotonic()
        with pytest.raises(
            NoReplyError, match=r"no reply at all from 'wrist_flex' \(id 4\)"
        ) as info:
            bus.sync_read("Present_Position")
        elapsed = time.monotonic() - start
        assert info.value.failed == {"wrist_flex": 4}
        bus.close()
    print(f"unplugged motor reported after {elapsed * 1000:.1f} ms")


@pytest.mark.parametrize("fault", ["unplugged", "lost replies"])
def test_no_reply_at_all_on_a_virtual_arm_points_at_the_emulator_not_a_cable(
    family: str, fault: str
) -> None:
    with VirtualBus(make_servos(family)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.01, retries=2)
        bus.connect()
        if fault == "unplugged":
            vbus.faults.unplugged.add(6)
        else:
            vbus.faults = Faults(drop_rate=1.0)  # every status packet is lost
        with pytest.raises(NoReplyError) as info:
            bus.read("Present_Position", "gripper")
        bus.close()
    message = str(info.value)
    assert "no reply at all from 'gripper' (id 6) to a read of Present_Position" in message
    assert "3 attempt(s) of 10 + 20 + 40 ms, not even a late one" in message
    assert "is a virtual arm: check that `bricobot virtual-arm` is still running" in message
    assert f"`bricobot scan port={vbus.port}`" in message and "cable" not in message
    assert not isinstance(info.value, LateReplyError) and info.value.failed == {"gripper": 6}


@pytest.mark.parametrize("operation", ["read", "sync_read"])
def test_replies_after_the_budget_are_reported_as_late_with_the_host_side_fixes(
    family: str, operation: str
) -> None:
    with VirtualBus(make_servos(family)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.1, retries=0)
        bus.timeout_setting = "robot.reply_timeout_s"
        bus.connect()
        vbus.faults.delay_s = 0.2  # every reply 200 ms late: past 100 ms, within the late listen
        with pytest.raises(LateReplyError) as info:
            if operation == "read":
                bus.read("Present_Position", "gripper")
            else:
                bus.sync_read("Present_Position", ["elbow_flex", "gripper"])
        bus.close()
    message = str(info.value)
    assert "late replies to a" in message and "'gripper' (id 6) after" in message
    assert "past the reply budget (1 attempt(s) of 100 ms)" in message
    assert "the host reads them too late" in message and "close programs" in message
    assert re.search(r"`robot\.reply_timeout_s=0\.\d+`, now 0\.1 s", message)  # the exact key
    assert "cable" not in message and "latency_timer" not in message  # a pty has no USB adapter
    assert info.value.late_s["gripper"] >= 0.19  # the injected delay, measured from the request
    assert bus.stats["late"] >= 1


def test_a_reply_later_than_every_retry_is_still_told_apart_from_silence(family: str) -> None:
    # The robots' defaults: 20 + 40 + 80 ms of attempts, then 70 ms of listening for late replies.
    with VirtualBus(make_servos(family)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.02, retries=2)
        bus.connect()
        vbus.faults.delay_s = 0.175  # after the 140 ms of attempts, within the 210 ms listen
        with pytest.raises(LateReplyError, match=r"3 attempt\(s\) of 20 \+ 40 \+ 80 ms"):
            bus.read("Present_Position", "gripper")
        bus.close()
    assert bus.late_listen_s(3) == pytest.approx(0.07)


def test_a_busy_host_is_tolerated_by_longer_retries(family: str) -> None:
    # Replies 70 ms late: more than three 20 ms attempts (the robots' defaults before), less
    # than the doubling budgets 20 + 40 + 80 ms.
    with VirtualBus(make_servos(family)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.02, retries=2)
        bus.connect()
        vbus.faults.delay_s = 0.07
        assert len(bus.sync_read("Present_Position")) == 6
        assert bus.stats["retries"] >= 1
        bus.close()
    assert [bus.attempt_timeout_s(a) for a in range(4)] == [0.02, 0.04, 0.08, 0.08]


def test_messages_on_a_real_port_name_the_cable_and_the_usb_latency_timer() -> None:
    assert "check the cable and power of that motor" in no_reply_fix("/dev/ttyACM0", [4], 1_000_000)
    late = late_reply_fix("/dev/ttyUSB0", 0.02, 0.031)
    assert "`echo 1 | sudo tee /sys/bus/usb-serial/devices/ttyUSB0/latency_timer`" in late
    assert "`robot.reply_timeout_s=0.04` (follower arm)" in late
    assert "`teleop.reply_timeout_s=0.04` (leader arm)" in late
    assert "latency_timer" not in late_reply_fix("/dev/ttyACM0", 0.02, 0.031)  # CDC-ACM has none


def test_connect_lists_missing_motor(family: str) -> None:
    servos = [s for s in make_servos(family) if s.id != 5]
    with VirtualBus(servos) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.005)
        with pytest.raises(
            MotorNotFoundError, match=r"'wrist_roll' \(id 5\).*Answered: 'shoulder_pan'"
        ) as info:
            bus.connect()
        assert info.value.missing == {"wrist_roll": 5}
        assert not bus.is_connected


def test_connect_rejects_wrong_model(family: str) -> None:
    other = {"feetech": "sts3250", "dynamixel": "xl430-w250"}[family]
    servos = make_servos(family)
    servos[1] = VirtualServo(other, 2, baudrate=1_000_000)
    with VirtualBus(servos) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.005)
        with pytest.raises(
            ModelMismatchError,
            match=rf"'shoulder_lift' \(id 2\).*\({other}\), expected .*\({MODEL[family]}\)",
        ):
            bus.connect()


def test_connect_detects_wrong_baudrate(family: str) -> None:
    with VirtualBus(make_servos(family, baudrate=57_600)) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.005, retries=0)
        with pytest.raises(BaudRateError, match=r"answer at 57600 baud"):
            bus.connect()


def test_duplicate_ids_on_the_wire(family: str) -> None:
    servos = make_servos(family)
    servos.append(VirtualServo(MODEL[family], 3, baudrate=1_000_000))
    with VirtualBus(servos) as vbus:
        bus = make_bus(family, vbus.port, timeout_s=0.005)
        with pytest.raises(DuplicateIdError, match=r"share id 3.*setup-motors"):
            bus.connect()


def test_duplicate_ids_in_config() -> None:
    with pytest.raises(DuplicateIdError, match=r"'a' and 'b' are both configured with id 1"):
        FeetechBus("/dev/null", [Motor("a", 1, "sts3215"), Motor("b", 1, "sts3215")])


def test_missing_port_names_fix(family: str) -> None:
    bus = BUS[family]("/dev/ttyACM_nope", [Motor("a", 1, MODEL[family])])
    with pytest.raises(PortNotFoundError, match=r"ttyACM_nope does not exist.*find-port"):
        bus.connect()


def test_permission_error_gives_exact_fix() -> None:
    bus = FeetechBus("/dev/null", [Motor("a", 1, "sts3215")])
    err = bus._port_error(PermissionError(errno.EACCES, "Permission denied: '/dev/null'"))
    assert isinstance(err, PortPermissionError)
    assert "sudo usermod -aG dialout $USER" in str(err) and "udev" in str(err)


def test_dynamixel_eeprom_write_with_torque_on_is_refused() -> None:
    with VirtualBus(make_servos("dynamixel")) as vbus:
        bus = make_bus("dynamixel", vbus.port, timeout_s=0.01)
        bus.connect()
        bus.enable_torque(["gripper"])
        with pytest.raises(ServoError, match=r"gripper.*access error"):
            bus.write("Homing_Offset", "gripper", 10)
        bus.close()


def test_feetech_eeprom_write_unlocks_and_relocks() -> None:
    with VirtualBus(make_servos("feetech")) as vbus:
        bus = make_bus("feetech", vbus.port, timeout_s=0.01)
        bus.connect()
        bus.write("Homing_Offset", "gripper", 100)
        assert vbus.servo(6).homing_offset == 100
        assert bus.read("Lock", "gripper") == 1
        with pytest.raises(RegisterError, match=r"2047"):
            bus.write("Homing_Offset", "gripper", 3000)
        bus.close()


def test_scs_servos_without_sync_read_are_read_one_by_one() -> None:
    servos = [VirtualServo("scs0009", i, raw_ticks=100 * i) for i in (1, 2)]
    with VirtualBus(servos) as vbus:
        bus = FeetechBus(vbus.port, [Motor("a", 1, "scs0009"), Motor("b", 2, "scs0009")])
        bus.connect()
        assert bus.sync_read("Present_Position") == {"a": 100, "b": 200}  # big-endian decoded
        bus.write("Goal_Position", "b", 300)
        assert vbus.servo(2).goal_position == 300
        bus.close()


@pytest.mark.slow
def test_soak_10000_sync_reads_with_2_percent_bad_packets() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "scripts" / "bus_fault_soak.py"
    spec = importlib.util.spec_from_file_location("bus_fault_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for family in ("feetech", "dynamixel"):
        report = module.soak(family, 10_000, 0.02, None, 3)
        assert report["failed_reads"] == 0
        assert report["unplugged_error_names_motor"]
