"""MotorBus drivers (Feetech, Dynamixel) against the emulators over real pseudo-terminals."""

from __future__ import annotations

import errno
import time

import pytest

from bricobot.emulation import Faults, VirtualBus, VirtualServo
from bricobot.motors.bus import Motor, MotorBus
from bricobot.motors.errors import (
    BaudRateError,
    CommunicationError,
    DuplicateIdError,
    ModelMismatchError,
    MotorNotFoundError,
    PortNotFoundError,
    PortPermissionError,
    RegisterError,
    ServoError,
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
        with pytest.raises(CommunicationError, match=r"'wrist_flex' \(id 4\)") as info:
            bus.sync_read("Present_Position")
        elapsed = time.monotonic() - start
        assert info.value.failed == {"wrist_flex": 4}
        bus.close()
    print(f"unplugged motor reported after {elapsed * 1000:.1f} ms")


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
