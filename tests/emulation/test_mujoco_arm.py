"""The MuJoCo-backed virtual arm: physics follows goals, leaders follow trajectories, and the
calibration it writes maps the MJCF zero pose to 0°."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bricobot.emulation.mujoco_arm import (
    MujocoArm,
    hardware_path,
    recorded_trajectory,
    servo_joints,
    start_virtual_arm,
)
from bricobot.motors.calibration import load_calibration
from bricobot.motors.spec import load_motors_spec

pytestmark = pytest.mark.skipif(
    not hardware_path("koch", "motors.yaml").is_file(),
    reason="hardware/koch/motors.yaml not there yet",
)


def koch_arm(role: str = "follower", trajectory=None) -> tuple[MujocoArm, list]:  # type: ignore[no-untyped-def]
    spec = load_motors_spec("koch")
    joints = servo_joints(spec)
    return MujocoArm(
        hardware_path("koch", "koch.xml"), joints, role=role, trajectory=trajectory
    ), joints


def test_follower_physics_drives_joints_to_goal_ticks() -> None:
    arm, joints = koch_arm()
    elbow = next(j for j in joints if j.joint == "elbow_flex")
    goals = {j.servo_id: j.raw_from_deg(0.0) for j in joints}
    goals[elbow.servo_id] = elbow.raw_from_deg(30.0)
    for _ in range(40):
        raw = arm.step(goals, 1 / 40)  # one second of physics
    assert elbow.deg_from_raw(raw[elbow.servo_id]) == pytest.approx(30.0, abs=1.0)
    assert arm.positions_deg()["elbow_flex"] == pytest.approx(30.0, abs=1.0)


def test_torque_off_joint_stays_where_it_is() -> None:
    arm, joints = koch_arm()
    arm.set_positions_deg({"wrist_flex": 20.0})
    raw = arm.step({j.servo_id: None for j in joints}, 0.5)
    wrist = next(j for j in joints if j.joint == "wrist_flex")
    assert wrist.deg_from_raw(raw[wrist.servo_id]) == pytest.approx(20.0, abs=2.0)


def test_leader_follows_a_recorded_trajectory_ignoring_goals() -> None:
    names = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
    data = np.zeros((3, 6))
    data[:, 0] = [0.0, 10.0, 20.0]  # pan sweeps 0 → 20° over 2 frames at 10 fps
    arm, joints = koch_arm("leader", recorded_trajectory(names, data, fps=10.0, loop=False))
    pan = next(j for j in joints if j.joint == "shoulder_pan")
    raw = arm.step({pan.servo_id: pan.raw_from_deg(-50.0)}, 0.15)
    assert pan.deg_from_raw(raw[pan.servo_id]) == pytest.approx(15.0, abs=1e-6)
    raw = arm.step({}, 10.0)  # past the end: holds the last pose
    assert pan.deg_from_raw(raw[pan.servo_id]) == pytest.approx(20.0, abs=1e-6)


def test_started_arm_reads_zero_pose_as_zero_through_its_calibration(tmp_path: Path) -> None:
    with start_virtual_arm("koch", "follower", workdir=tmp_path) as arm:
        calibration = load_calibration(arm.calibration_path)
        for motor in arm.spec.motors:
            servo = arm.bus.servo(motor.id)
            value = calibration[motor.name].ticks_to_value(servo.present_position)
            assert value == pytest.approx(0.0, abs=0.2), motor.name
            assert servo.peek("Homing_Offset") == calibration[motor.name].homing_offset
        assert Path(arm.port).exists()


def test_virtual_arm_command_prints_the_port_and_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bricobot.cli import virtual_arm

    assert virtual_arm.translate_argv(["koch", "--role", "leader", "robot=so101", "--robot=x"]) == [
        "arm=koch",
        "role=leader",
        "arm=so101",
        "arm=x",
    ]
    argv = ["koch", "--role", "leader", "duration_s=0.1", f"output_dir={tmp_path}"]
    assert virtual_arm.main(argv) == 0
    out = capsys.readouterr().out
    assert "port: /dev/" in out
    assert (tmp_path / "koch_leader.json").is_file()
    assert "teleop=koch_leader teleop.port=" in out
