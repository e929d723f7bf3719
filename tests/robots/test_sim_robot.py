"""SimRobot: the PickCube twin behind the Robot interface, with the real arm's keys and units."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bricobot.errors import DeviceNotConnectedError
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobot, SimRobotConfig

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


@pytest.fixture
def robot() -> SimRobot:
    config = SimRobotConfig(
        task_config={"cameras": ["front", "wrist"], "image_height": 32, "image_width": 40}
    )
    return make(ROBOTS, "robot", config)


def test_features_match_the_real_arm(robot: SimRobot) -> None:
    assert list(robot.action_features) == [f"{j}.pos" for j in JOINTS]
    assert robot.observation_features == {
        **{f"{j}.pos": float for j in JOINTS},
        "front": (32, 40, 3),
        "wrist": (32, 40, 3),
    }


def test_observation_and_action_round_trip(robot: SimRobot) -> None:
    with robot:
        obs = robot.get_observation()
        assert obs["front"].shape == (32, 40, 3) and obs["front"].dtype == np.uint8
        assert set(robot.capture_times_s) == {"observation.state", "front", "wrist"}
        target = {key: obs[key] for key in robot.action_features}
        target["shoulder_pan.pos"] += 5.0
        sent = robot.send_action(target)
        assert sent == pytest.approx(target)
        for _ in range(15):
            robot.send_action(target)
        assert robot.get_observation()["shoulder_pan.pos"] == pytest.approx(
            target["shoulder_pan.pos"], abs=1.0
        )


def test_send_action_clips_to_limits_and_rejects_bad_actions(robot: SimRobot) -> None:
    with robot:
        action = {f"{j}.pos": 0.0 for j in JOINTS}
        action["gripper.pos"] = 250.0
        assert robot.send_action(action)["gripper.pos"] == pytest.approx(100.0)
        with pytest.raises(ValueError, match="non-finite"):
            robot.send_action({**action, "elbow_flex.pos": math.nan})
        with pytest.raises(ValueError, match="missing"):
            robot.send_action({k: v for k, v in action.items() if k != "gripper.pos"})


def test_use_before_connect_is_an_error(robot: SimRobot) -> None:
    with pytest.raises(DeviceNotConnectedError, match="connect"):
        robot.get_observation()


def test_episodes_are_seeded(robot: SimRobot) -> None:
    with robot:
        robot.reset_episode(seed=3)
        first = robot.task.cube_position  # type: ignore[attr-defined]
        robot.reset_episode(seed=4)
        robot.reset_episode(seed=3)
        assert np.allclose(robot.task.cube_position, first)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("task", "robot_type"),
    [
        ("so101_pick_cube", "so101_sim"),
        ("koch_pick_cube", "koch_sim"),
        ("bimanual_so101_transfer_cube", "bimanual_so101_sim"),
    ],
)
def test_the_sim_robot_names_the_arm_it_simulates(task: str, robot_type: str) -> None:
    # Datasets store it as robot_type, and the policy server logs it: a Koch recording must not
    # say so101.
    robot = SimRobot(SimRobotConfig(task=task, task_config={"cameras": []}))
    assert robot.robot_type == robot_type
