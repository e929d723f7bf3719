"""End to end on virtual hardware: teleoperate, record, replay, and the faults users hit.

The follower and leader are the real drivers on MuJoCo-backed emulated servo buses; the emulator's
registers (torque, goal position) prove what reached the servos.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bricobot.cameras.base import CameraError
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.motors.errors import CommunicationError
from bricobot.policies.checkpoint import FeatureMismatchError
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
    leader_config,
    robot_config,
    settled,
    torque_on,
)
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act_checkpoint

pytestmark = pytest.mark.hardware


def _dataset(root: Path, **fields) -> DatasetConfig:
    base = {"root": str(root), "fps": 30, "episode_time_s": 0.5, "reset_time_s": 0.1}
    base.update(fields)
    return DatasetConfig(**base)


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
    assert all(torque_on(follower))  # "hold": still powered after the command ends
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
    assert settled(lambda: not any(torque_on(follower)))  # "release" on exit


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
    assert settled(lambda: not any(torque_on(follower)))

    replayed = run_replay(robot_config(follower, cameras=cams, torque_on_exit="hold"), str(root), 1)
    assert replayed.steps == 15
    assert all(torque_on(follower))


def test_a_camera_that_stops_ends_the_episode_naming_it(
    follower: Arm, leader: Arm, image_folder: Path, tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    cams = {
        "front": camera_config(image_folder),
        # ten frames at 10 fps, no loop: it stops delivering one second in
        "wrist": camera_config(image_folder, fps=10.0, loop=False),
    }
    with pytest.raises(CameraError, match="'wrist'"):
        run_record(
            robot_config(follower, cameras=cams, torque_on_exit="release"),
            leader_config(leader),
            _dataset(root, num_episodes=3, episode_time_s=0.6, reset_time_s=0.0),
            keyboard=False,
        )
    assert validate(root).ok
    assert DatasetMeta.load(root).total_episodes == 1  # the first episode was saved before
    assert settled(lambda: not any(torque_on(follower)))


def test_an_unplugged_motor_stops_the_arm_naming_the_motor(
    follower: Arm, leader: Arm, tmp_path: Path
) -> None:
    assert follower.virtual is not None
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="release"))
    teleop = make(TELEOPERATORS, "teleoperator", leader_config(leader))
    steps = 0

    def source(obs):
        nonlocal steps
        steps += 1
        if steps == 10:
            follower.virtual.unplug("elbow_flex")
        return teleop.get_action()

    with (
        pytest.raises(CommunicationError, match="elbow_flex") as info,
        robot_session(robot, [teleop]) as stop,
    ):
        ControlLoop(robot, source, 30, should_stop=stop).run(duration_s=2.0)
    assert steps < 15, f"kept going {steps} steps after the unplug: {info.value}"
    spec = follower.virtual.spec
    plugged = [m for m in spec.motors if m.name != "elbow_flex"]
    servos = [follower.virtual.bus.servo(m.id) for m in plugged]
    assert settled(lambda: not any(s.torque_enabled for s in servos))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_action_never_reaches_a_servo(follower: Arm, bad: float) -> None:
    assert follower.virtual is not None
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="hold"))
    servos = [follower.virtual.bus.servo(m.id) for m in follower.virtual.spec.motors]
    with robot:
        start = robot.get_observation()
        goals_before = [s.goal_position for s in servos]
        action = {k: start[k] for k in robot.action_features}
        action["elbow_flex.pos"] = bad
        with pytest.raises(UnsafeActionError):
            ControlLoop(robot, lambda obs: action, 30).run(max_steps=3)
        assert [s.goal_position for s in servos] == goals_before


def test_an_oversized_action_is_capped_before_the_servo(follower: Arm) -> None:
    assert follower.virtual is not None
    robot = make(ROBOTS, "robot", robot_config(follower, torque_on_exit="hold"))
    motor = follower.virtual.spec.by_name("shoulder_pan")
    servo = follower.virtual.bus.servo(motor.id)
    with robot:
        start = robot.get_observation()
        action = {k: start[k] for k in robot.action_features}
        action["shoulder_pan.pos"] = 1e6
        ControlLoop(robot, lambda obs: action, 30).run(max_steps=1)
        sent = robot.send_action(action)
        assert sent["shoulder_pan.pos"] - start["shoulder_pan.pos"] <= 2 * 8.0 + 1e-6
        low, high = servo.peek("Min_Position_Limit"), servo.peek("Max_Position_Limit")
        assert low <= servo.goal_position <= high


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
    assert settled(lambda: not any(torque_on(follower)))


def test_a_policy_for_another_robot_is_refused_before_connecting(
    follower: Arm, image_folder: Path, tmp_path: Path
) -> None:
    config = robot_config(follower, cameras={"front": camera_config(image_folder)})
    checkpoint = tiny_act_checkpoint(FakeRobot(cameras={"top": (48, 64, 3)}), tmp_path / "act")
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.top"):
        run_rollout(config, str(checkpoint), episode_time_s=0.5, keyboard=False)
    assert not any(torque_on(follower))  # never connected: torque never went on
