"""End to end on virtual hardware: teleoperate, record, replay, and the faults users hit.

The follower and leader are the real drivers on MuJoCo-backed emulated servo buses; the emulator's
registers (torque, goal position) prove what reached the servos.
"""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import pytest

from bricobot.cameras.base import CameraError
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.emulation.mujoco_arm import VirtualArm
from bricobot.features import FeatureMismatchError
from bricobot.motors.errors import CommunicationError
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.loop import ControlLoop, UnsafeActionError
from bricobot.runtime.record import run_record
from bricobot.runtime.replay import run_replay
from bricobot.runtime.rollout import run_rollout
from bricobot.runtime.shutdown import robot_session
from bricobot.runtime.teleoperate import run_teleoperate
from bricobot.teleop.registry import TELEOPERATORS
from tests.e2e.conftest import (
    Arm,
    camera_config,
    check_torque,
    leader_config,
    robot_config,
    settled,
)
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act_checkpoint


def _dataset(root: Path, **fields) -> DatasetConfig:
    base = {"root": str(root), "fps": 30, "episode_time_s": 0.5, "reset_time_s": 0.1}
    base.update(fields)
    return DatasetConfig(**base)


@pytest.mark.hardware
def test_teleoperate_follower_tracks_leader_and_holds_torque_on_exit(
    follower: Arm, leader: Arm
) -> None:
    result = run_teleoperate(
        robot_config(follower, torque_on_exit="hold"),
        leader_config(leader),
        fps=30,
        duration_s=1.5,
        display=False,
    )
    assert result.steps == 45 and result.reason == "duration"
    check_torque(follower, on=True)  # "hold": still powered after the command ends
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="release"))
    teleop = make(TELEOPERATORS, "teleoperator", leader_config(leader))
    with robot, teleop:
        target = teleop.get_action()
        for _ in range(60):  # let the motion cap walk the follower to the leader
            robot.send_action(teleop.get_action())
            target = teleop.get_action()
        observed = robot.get_observation()
        gaps = [abs(observed[k] - target[k]) for k in target if k != "gripper.pos"]
    assert max(gaps) < 10.0, gaps
    check_torque(follower, on=False)  # "release" on exit


@pytest.mark.hardware
def test_record_three_episodes_replay_one_and_validate(
    follower: Arm, leader: Arm, image_folder: Path, tmp_path: Path
) -> None:
    root = tmp_path / "pick"
    cams = {"front": camera_config(image_folder), "wrist": camera_config(image_folder)}
    result = run_record(
        robot_config(follower, cameras=cams, torque_on_exit="release"),
        leader_config(leader),
        _dataset(root, num_episodes=3, task="follow the leader"),
        keyboard=False,
    )
    assert result.episodes_saved == 3
    report = validate(root)
    assert report.ok, report.summary()
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 3 and meta.total_frames == 45
    assert sorted(meta.camera_keys) == ["observation.images.front", "observation.images.wrist"]
    check_torque(follower, on=False)

    replayed = run_replay(robot_config(follower, cameras=cams, torque_on_exit="hold"), str(root), 1)
    assert replayed.steps == 15
    check_torque(follower, on=True)


def test_a_camera_that_stops_ends_the_episode_naming_it(
    follower: Arm, leader: Arm, image_folder: Path, tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    cams = {
        "front": camera_config(image_folder),
        # ten frames at 5 fps, no loop: it stops delivering two seconds in (stale after 0.6 s)
        "wrist": camera_config(image_folder, fps=5.0, loop=False, max_age_periods=3.0),
    }
    with pytest.raises(CameraError, match="'wrist'"):
        run_record(
            robot_config(follower, cameras=cams, torque_on_exit="release"),
            leader_config(leader),
            _dataset(root, num_episodes=50, episode_time_s=0.5, reset_time_s=0.0),
            keyboard=False,
        )
    assert validate(root).ok
    assert 0 < DatasetMeta.load(root).total_episodes < 50  # episodes saved before it stay
    check_torque(follower, on=False)


def test_an_unplugged_motor_stops_the_arm_naming_the_motor(
    follower: Arm, virtual_follower: VirtualArm, leader: Arm, tmp_path: Path
) -> None:
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="release"))
    teleop = make(TELEOPERATORS, "teleoperator", leader_config(leader))
    steps = 0

    def source(obs):
        nonlocal steps
        steps += 1
        if steps == 10:
            virtual_follower.unplug("elbow_flex")
        return teleop.get_action()

    with (
        pytest.raises(CommunicationError, match="elbow_flex") as info,
        robot_session(robot, [teleop]) as stop,
    ):
        ControlLoop(robot, source, 30, should_stop=stop).run(duration_s=2.0)
    assert steps < 15, f"kept going {steps} steps after the unplug: {info.value}"
    spec = virtual_follower.spec
    plugged = [m for m in spec.motors if m.name != "elbow_flex"]
    servos = [virtual_follower.bus.servo(m.id) for m in plugged]
    assert settled(lambda: not any(s.torque_enabled for s in servos))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_action_never_reaches_a_servo(
    follower: Arm, virtual_follower: VirtualArm, bad: float
) -> None:
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="hold"))
    servos = [virtual_follower.bus.servo(m.id) for m in virtual_follower.spec.motors]
    with robot:
        start = robot.get_observation()
        goals_before = [s.goal_position for s in servos]
        action = {k: start[k] for k in robot.action_features}
        action["elbow_flex.pos"] = bad
        with pytest.raises(UnsafeActionError):
            ControlLoop(robot, lambda obs: action, 30).run(max_steps=3)
        assert [s.goal_position for s in servos] == goals_before


def test_an_oversized_action_is_capped_before_the_servo(
    follower: Arm, virtual_follower: VirtualArm
) -> None:
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="hold"))
    motor = virtual_follower.spec.by_name("shoulder_pan")
    servo = virtual_follower.bus.servo(motor.id)
    with robot:
        start = robot.get_observation()
        action = {k: start[k] for k in robot.action_features}
        action["shoulder_pan.pos"] = 1e6
        ControlLoop(robot, lambda obs: action, 30).run(max_steps=1)
        sent = robot.send_action(action)
        assert sent["shoulder_pan.pos"] - start["shoulder_pan.pos"] <= 2 * 8.0 + 1e-6
        low, high = servo.peek("Min_Position_Limit"), servo.peek("Max_Position_Limit")
        assert low <= servo.goal_position <= high


@pytest.mark.hardware
def test_rollout_of_a_policy_checkpoint_recorded_and_valid(
    follower: Arm, image_folder: Path, tmp_path: Path
) -> None:
    cams = {"front": camera_config(image_folder)}
    config = robot_config(follower, cameras=cams, torque_on_exit="release")
    checkpoint = tiny_act_checkpoint(make(ROBOTS, "robot", config), tmp_path / "act")
    root = tmp_path / "eval"
    result = run_rollout(
        config,
        str(checkpoint),
        num_episodes=2,
        episode_time_s=0.5,
        reset_time_s=0.1,
        fps=30,
        dataset=DatasetConfig(root=str(root), task="policy"),
        keyboard=False,
    )
    assert result.episodes == 2
    assert validate(root).ok
    assert DatasetMeta.load(root).total_frames == 30
    check_torque(follower, on=False)


@pytest.mark.hardware
def test_a_policy_for_another_robot_is_refused_before_connecting(
    follower: Arm, image_folder: Path, tmp_path: Path
) -> None:
    config = robot_config(follower, cameras={"front": camera_config(image_folder)})
    checkpoint = tiny_act_checkpoint(FakeRobot(cameras={"top": (48, 64, 3)}), tmp_path / "act")
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.top"):
        run_rollout(config, str(checkpoint), episode_time_s=0.5, keyboard=False)
    check_torque(follower, on=False)  # never connected: torque never went on


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_parks_then_releases_and_twice_releases_at_once(
    follower: Arm, virtual_follower: VirtualArm, presses: int
) -> None:
    park = {"shoulder_pan": 30.0, "elbow_flex": -30.0}
    robot = make(
        ROBOTS,
        "robot",
        # a 1°-per-step cap makes the park take about a second, long enough to interrupt it
        robot_config(
            follower,
            torque_on_exit="park",
            park_positions=park,
            park_timeout_s=10.0,
            max_step_deg=1.0,
        ),
    )
    # First Ctrl-C at step 10 of the loop; the second (if any) at the third move of the park.
    previous = signal.signal(signal.SIGINT, lambda *_: None)  # a stray signal must not hit pytest
    steps = park_moves = 0
    send = robot.send_action

    def counting_send(action: dict[str, float]) -> dict[str, float]:
        nonlocal park_moves
        if steps >= 10:
            park_moves += 1
            if presses == 2 and park_moves == 3:
                os.kill(os.getpid(), signal.SIGINT)
        return send(action)

    def source(obs: dict[str, float]) -> dict[str, float]:
        nonlocal steps
        steps += 1
        if steps == 10:
            os.kill(os.getpid(), signal.SIGINT)
        return {k: obs[k] for k in robot.action_features}

    robot.send_action = counting_send  # type: ignore[method-assign]
    raised = False
    try:
        with robot_session(robot) as stop:
            ControlLoop(robot, source, 30, should_stop=stop).run(duration_s=20.0)
    except KeyboardInterrupt:
        raised = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert raised is (presses == 2)
    check_torque(follower, on=False)
    joints = virtual_follower.arm.positions_deg()
    parked = abs(joints["shoulder_pan"] - 30.0) < 5 and abs(joints["elbow_flex"] + 30.0) < 5
    assert parked is (presses == 1), joints
