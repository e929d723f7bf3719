"""Calibration: units, files, and the guided procedure run against emulated arms."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.emulation.scripted_user import JointScript, ScriptedCalibrationUser
from bricobot.motors.calibration import (
    CalibrationError,
    MotorCalibration,
    compare_files,
    compare_in_pose,
    homing_offset_for,
    load_calibration,
    run_calibration,
    save_calibration,
)
from bricobot.motors.spec import RobotMotorsSpec, load_motors_spec, make_bus

SO101_YAML = """
robot_type: so101_follower
bus: feetech
baudrate: 1000000
motors:
  - {name: shoulder_pan, id: 1, model: sts3215, direction: 1, range_deg: [-110, 110]}
  - {name: shoulder_lift, id: 2, model: sts3215, direction: 1, range_deg: [-100, 100]}
  - {name: elbow_flex, id: 3, model: sts3215, direction: 1, range_deg: [-100, 100]}
  - {name: wrist_flex, id: 4, model: sts3215, direction: 1, range_deg: [-100, 100]}
  - {name: wrist_roll, id: 5, model: sts3215, direction: 1, range_deg: [-160, 160]}
  - {name: gripper, id: 6, model: sts3215, direction: 1, range_deg: [-10, 100]}
gripper: {closed_deg: 0, open_deg: 90}
"""


@pytest.fixture
def so101_spec(tmp_path: Path) -> RobotMotorsSpec:
    path = tmp_path / "motors.yaml"
    path.write_text(SO101_YAML)
    return load_motors_spec(path)


def _calibrate(spec: RobotMotorsSpec, seed: int, overrides: dict | None = None):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    joints = {
        m.id: JointScript(
            zero_raw=float(rng.randint(0, 4095)),
            sweep_deg=(m.range_deg[0] * 0.8, m.range_deg[1] * 0.8),
            sign=rng.choice([1, -1]),
        )
        for m in spec.motors
    }
    for servo_id, changes in (overrides or {}).items():
        for key, value in changes.items():
            setattr(joints[servo_id], key, value)
    servos = [VirtualServo(m.model, m.id, baudrate=spec.baudrate) for m in spec.motors]
    with VirtualBus(servos) as vbus:
        bus = make_bus(spec, vbus.port, timeout_s=0.01)
        bus.connect()
        try:
            user = ScriptedCalibrationUser(vbus, joints, sweep_steps=8)
            result = run_calibration(bus, spec, user, sample_period_s=0.0)
            positions = bus.read_positions()
            offsets = {s.id: s.homing_offset for s in servos}
        finally:
            bus.close()
    return result, joints, positions, offsets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feetech_calibration_recovers_zero_offsets(so101_spec: RobotMotorsSpec, seed: int) -> None:
    result, joints, positions, offsets = _calibrate(so101_spec, seed)
    for cal in result.calibration.values():
        joint = joints[cal.id]
        ideal = joint.zero_raw - 2048
        if abs(ideal) <= 2047:
            assert abs(cal.homing_offset - ideal) <= 1
        else:  # sign-magnitude limit: nearest legal offset, zero_ticks absorbs the rest
            assert abs(cal.homing_offset) == 2047
        assert offsets[cal.id] == cal.homing_offset  # written to the servo and read back
        assert cal.direction == joint.sign
    # The scripted user left every joint +30° from zero (gripper: 30° of 90° = 33 %).
    for name, value in positions.items():
        expected = 100 * 30 / 90 if name == "gripper" else 30.0
        assert value == pytest.approx(expected, abs=360 / 4096 * 1.5)


def test_dynamixel_calibration_recovers_zero_offsets() -> None:
    spec = load_motors_spec("koch")
    result, joints, positions, _ = _calibrate(spec, 5)
    for cal in result.calibration.values():
        assert abs(cal.homing_offset - (2048 - joints[cal.id].zero_raw)) <= 1
        assert cal.zero_ticks == pytest.approx(2048, abs=1)
    assert positions["elbow_flex"] == pytest.approx(30.0, abs=0.15)


def test_sweep_through_the_seam_is_rejected(so101_spec: RobotMotorsSpec) -> None:
    # The person sweeps the wrist roll by 200°: the encoder crosses 0/4095.
    with pytest.raises(CalibrationError, match=r"'wrist_roll' \(id 5\).*seam"):
        _calibrate(so101_spec, 0, {5: {"sweep_deg": (-20.0, 200.0)}})


def test_implausible_range_is_rejected(so101_spec: RobotMotorsSpec) -> None:
    with pytest.raises(CalibrationError, match=r"'elbow_flex' \(id 3\).*only 20°"):
        _calibrate(so101_spec, 0, {3: {"sweep_deg": (-10.0, 10.0)}})


def test_joint_not_moved_in_direction_check_is_named(so101_spec: RobotMotorsSpec) -> None:
    with pytest.raises(CalibrationError, match=r"'gripper' \(id 6\) moved \+0.0°"):
        _calibrate(so101_spec, 0, {6: {"plus_deg": 0.0}})


@pytest.mark.parametrize(("raw", "expected"), [(0, -2047), (4095, 2047), (2048, 0), (100, -1948)])
def test_feetech_offset_respects_sign_magnitude_limit(raw: int, expected: int) -> None:
    assert homing_offset_for("sts3215", raw) == expected


cal_strategy = st.builds(
    MotorCalibration,
    name=st.sampled_from(["shoulder_pan", "gripper"]),
    id=st.integers(1, 252),
    model=st.sampled_from(["sts3215", "xl330-m288"]),
    homing_offset=st.integers(-2047, 2047),
    zero_ticks=st.integers(1000, 3000),
    range_min_ticks=st.integers(0, 1000),
    range_max_ticks=st.integers(3000, 4095),
    direction=st.sampled_from([1, -1]),
    gripper=st.booleans(),
    closed_deg=st.just(0.0),
    open_deg=st.floats(10, 120),
)


@given(cal_strategy, st.integers(0, 4095))
def test_ticks_value_round_trip(cal: MotorCalibration, ticks: int) -> None:
    ticks = min(max(ticks, cal.range_min_ticks), cal.range_max_ticks)
    assert cal.value_to_ticks(cal.ticks_to_value(ticks)) == ticks


@given(st.lists(cal_strategy, min_size=1, max_size=6))
def test_json_round_trip(
    tmp_path_factory: pytest.TempPathFactory, cals: list[MotorCalibration]
) -> None:
    path = tmp_path_factory.mktemp("cal") / "arm.json"
    by_name = {f"{c.name}_{i}": c for i, c in enumerate(cals)}
    for name, cal in by_name.items():
        cal.name = name
    save_calibration(path, by_name, "so101_follower")
    assert load_calibration(path) == by_name


def test_bad_files_name_cause_and_fix(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"not found.*bricobot calibrate"):
        load_calibration(tmp_path / "none.json")
    old = tmp_path / "old.json"
    old.write_text('{"format": "bricobot.calibration", "version": 0, "motors": {}}')
    with pytest.raises(CalibrationError, match=r"version 0.*Recalibrate"):
        load_calibration(old)


def _cal(name: str, zero: int, lo: int, hi: int) -> MotorCalibration:
    return MotorCalibration(name, 1, "sts3215", 0, zero, lo, hi)


def test_leader_follower_offset_is_caught() -> None:
    leader = {"elbow_flex": _cal("elbow_flex", 2048, 1000, 3000)}
    follower = {"elbow_flex": _cal("elbow_flex", 2048 + 228, 1000, 3000)}  # zero pose 20° off
    problems = compare_files(leader, follower)
    assert problems and "elbow_flex" in problems[0] and "+20°" in problems[0]
    same_pose = compare_in_pose(leader, {"elbow_flex": 2500}, follower, {"elbow_flex": 2500})
    assert not same_pose[0].ok and same_pose[0].difference_deg == pytest.approx(20.0, abs=0.1)
