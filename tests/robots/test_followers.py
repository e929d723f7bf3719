"""SO-101 and Koch followers against emulated servo buses on a pty, backed by the MuJoCo twins.

The emulator's register writes are the proof: goal = present before torque on, and a NaN or an
oversized action never reaches a servo.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bricobot.emulation.mujoco_arm import VirtualArm, hardware_path, start_virtual_arm
from bricobot.motors.calibration import load_calibration
from bricobot.motors.errors import CommunicationError
from bricobot.robots.follower import ServoFollower
from bricobot.robots.koch import KochFollower, KochFollowerConfig
from bricobot.robots.so101 import SO101Follower, SO101FollowerConfig
from tests.fakes.fake_servo_log import WriteLog, logging_servo_class

ROBOTS = {
    "so101": (SO101Follower, SO101FollowerConfig),
    "koch": (KochFollower, KochFollowerConfig),
}
EMULATOR_REPLY_TIMEOUT_S = 0.2
START_POSE = {"shoulder_pan": 20.0, "shoulder_lift": -15.0, "elbow_flex": 30.0, "wrist_flex": 10.0}


def robot_params() -> list:
    params = []
    for name in ROBOTS:
        have = (
            hardware_path(name, "motors.yaml").is_file()
            and hardware_path(name, f"{name}.xml").is_file()
        )
        params.append(
            pytest.param(
                name, marks=pytest.mark.skipif(not have, reason=f"hardware/{name} not there yet")
            )
        )
    return params


@pytest.fixture(params=robot_params())
def virtual(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, VirtualArm, WriteLog]]:
    log = WriteLog()
    arm = start_virtual_arm(
        request.param,
        "follower",
        workdir=tmp_path,
        initial_positions_deg=START_POSE,
        servo_class=logging_servo_class(log),
    )
    with arm:
        yield request.param, arm, log


def eventually(condition, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    """Broadcast writes get no reply: give the emulator time to apply them (generous: on a busy
    machine its thread may wait for a CPU; the deadline only bounds a failing test)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())


def torque_states(arm: VirtualArm) -> set[int]:
    return {arm.bus.servo(m.id).peek("Torque_Enable") for m in arm.spec.motors}


def make_robot(name: str, arm: VirtualArm, **overrides: object) -> ServoFollower:
    cls, config_cls = ROBOTS[name]
    # The emulator shares 2 busy CI cores: allow it more time to answer than a real servo needs.
    overrides = {"reply_timeout_s": EMULATOR_REPLY_TIMEOUT_S, **overrides}
    config = config_cls(port=arm.port, calibration_path=str(arm.calibration_path), **overrides)  # type: ignore[arg-type]
    return cls(config)


def test_connect_sets_goal_to_present_before_torque_and_the_arm_stays_put(virtual) -> None:
    name, arm, log = virtual
    with arm.bus.locked():  # a stale goal far from the pose, as left by a previous session
        for servo in arm.bus.servos:
            servo._poke("Goal_Position", 100)
    robot = make_robot(name, arm, torque_on_exit="hold")
    robot.connect()
    try:
        for motor in arm.spec.motors:
            torque_on = [e for e in log.of("Torque_Enable", motor.id) if e.value == 1]
            assert torque_on, f"torque never enabled on {motor.name}"
            goals_before = [
                e for e in log.of("Goal_Position", motor.id) if e.seq < torque_on[0].seq
            ]
            assert goals_before, f"{motor.name}: torque enabled before any goal was written"
            present = arm.bus.servo(motor.id).present_position
            assert abs(goals_before[-1].value - present) <= 2, motor.name
        observed = robot.get_observation()
        for joint, deg in START_POSE.items():
            assert observed[f"{joint}.pos"] == pytest.approx(deg, abs=1.0)
    finally:
        robot.disconnect()


def test_nan_and_oversized_actions_never_reach_a_servo(virtual) -> None:
    name, arm, log = virtual
    robot = make_robot(name, arm, max_step_deg=5.0, torque_on_exit="hold")
    with robot:
        present = robot.get_observation()
        action = {k: present[k] for k in robot.action_features}
        before = log.mark()
        for bad in (math.nan, math.inf):
            with pytest.raises(ValueError, match="elbow_flex"):
                robot.send_action({**action, "elbow_flex.pos": bad})
        with pytest.raises(ValueError, match="missing"):
            robot.send_action({k: v for k, v in action.items() if k != "gripper.pos"})
        assert [e for e in log.events[before:] if e.register == "Goal_Position"] == []

        sent = robot.send_action({**action, "elbow_flex.pos": present["elbow_flex.pos"] + 90.0})
        assert sent["elbow_flex.pos"] == pytest.approx(present["elbow_flex.pos"] + 5.0)
        assert robot.last_clipped["elbow_flex.pos"].reason == "max_step"
        robot.read_joint_positions()  # a read after the (unanswered) sync write: it has landed
        elbow = arm.spec.by_name("elbow_flex")
        written = log.of("Goal_Position", elbow.id)[-1].value
        cal = load_calibration(arm.calibration_path)["elbow_flex"]
        assert cal.ticks_to_value(written) == pytest.approx(
            present["elbow_flex.pos"] + 5.0, abs=0.2
        )


def test_values_beyond_the_calibrated_range_are_clipped_to_it(virtual) -> None:
    name, arm, _ = virtual
    robot = make_robot(name, arm, max_step_deg=None, torque_on_exit="hold")
    with robot:
        present = robot.get_observation()
        action = {k: present[k] for k in robot.action_features}
        sent = robot.send_action({**action, "shoulder_pan.pos": 1000.0, "gripper.pos": -50.0})
    _, high = robot.calibration["shoulder_pan"].range_deg
    assert sent["shoulder_pan.pos"] == pytest.approx(high)
    assert sent["gripper.pos"] == 0.0


def test_unplugged_motor_mid_run_raises_naming_the_motor_and_id(virtual) -> None:
    name, arm, _ = virtual
    robot = make_robot(name, arm, torque_on_exit="release")
    with robot:
        robot.get_observation()
        arm.unplug("wrist_flex")
        wrist = arm.spec.by_name("wrist_flex")
        with pytest.raises(CommunicationError, match=rf"'wrist_flex' \(id {wrist.id}\)"):
            robot.get_observation()


def test_release_on_exit_turns_torque_off_and_hold_keeps_it(virtual) -> None:
    name, arm, _ = virtual
    for mode, expected in (("hold", 1), ("release", 0)):
        robot = make_robot(name, arm, torque_on_exit=mode)
        robot.connect()
        robot.disconnect()
        assert eventually(lambda e=expected: torque_states(arm) == {e}), mode
        assert not robot.is_connected


def test_park_moves_to_the_park_pose_within_the_cap_then_releases(tmp_path: Path) -> None:
    if not hardware_path("koch", "motors.yaml").is_file():
        pytest.skip("hardware/koch/motors.yaml not there yet")
    park = {
        "shoulder_pan": 0.0,
        "shoulder_lift": 0.0,
        "elbow_flex": 10.0,
        "wrist_flex": 0.0,
        "wrist_roll": 0.0,
        "gripper": 0.0,
    }
    with start_virtual_arm(
        "koch", "follower", workdir=tmp_path, initial_positions_deg=START_POSE
    ) as arm:
        robot = make_robot(
            "koch", arm, torque_on_exit="park", park_positions=park, max_step_deg=10.0
        )
        robot.connect()
        robot.disconnect()
        reached = arm.arm.positions_deg()
        assert eventually(lambda: torque_states(arm) == {0})
    for joint, deg in park.items():
        if joint != "gripper":
            assert reached[joint] == pytest.approx(deg, abs=3.5)


def test_release_torque_is_immediate_and_idempotent(virtual) -> None:
    name, arm, _ = virtual
    robot = make_robot(name, arm, torque_on_exit="park")
    robot.connect()
    robot.release_torque()
    assert not robot.is_connected
    assert eventually(lambda: torque_states(arm) == {0})
    robot.release_torque()  # nothing left to do: no error


def test_missing_port_and_calibration_are_explained(tmp_path: Path) -> None:
    robot = KochFollower(KochFollowerConfig(port=""))
    with pytest.raises(ValueError, match=r"robot\.port"):
        robot.connect()
    robot = KochFollower(
        KochFollowerConfig(port="/dev/null", calibration_path=str(tmp_path / "none.json"))
    )
    with pytest.raises(Exception, match="bricobot calibrate"):
        robot.connect()


def test_a_camera_that_stops_delivering_fails_the_observation_naming_it(tmp_path: Path) -> None:
    if not hardware_path("koch", "motors.yaml").is_file():
        pytest.skip("hardware/koch/motors.yaml not there yet")
    import cv2
    import numpy as np

    from bricobot.cameras.base import CameraError

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((24, 32, 3), 100, np.uint8))
    # Two frames 0.25 s apart, then nothing: the last frame is too old (10 periods) 2.75 s after
    # connect, time enough for the first observation even on a busy machine.
    camera = {
        "type": "replay",
        "path": str(frames),
        "fps": 4,
        "loop": False,
        "max_age_periods": 10,
    }
    with start_virtual_arm("koch", workdir=tmp_path) as arm:
        robot = make_robot("koch", arm, cameras={"top": camera}, torque_on_exit="release")
        with robot:
            observation = robot.get_observation()
            assert observation["top"].shape == (24, 32, 3)
            assert set(robot.capture_times_s) == {"observation.state", "top"}
            # The recording ends: observations go on until its last frame is too old, then fail.
            deadline = time.monotonic() + 30.0
            with pytest.raises(CameraError, match="'top'"):
                while time.monotonic() < deadline:
                    robot.get_observation()
                    time.sleep(0.05)
