"""The scripted PickCube expert (named by its registry entry) as a teleoperator driving the SimRobot."""

from __future__ import annotations

import pytest

from bricobot.registry import make
from bricobot.robots.sim import SimRobot, SimRobotConfig
from bricobot.teleop.registry import TELEOPERATORS
from bricobot.teleop.sim_expert import SimExpertTeleopConfig


def test_expert_teleop_drives_the_sim_robot_to_success() -> None:
    robot = SimRobot(SimRobotConfig(task_config={"cameras": []}, seed=11))
    teleop = make(
        TELEOPERATORS, "teleoperator", SimExpertTeleopConfig(task="so101_pick_cube"), robot=robot
    )
    with robot, teleop:
        assert list(teleop.action_features) == list(robot.action_features)
        success = False
        for _ in range(robot.task.config.episode_length):
            robot.send_action(teleop.get_action())
            success |= robot.task.is_success()
        assert success


def test_expert_needs_a_pick_cube_task() -> None:
    with pytest.raises(ValueError, match="robot=so101_sim"):
        make(TELEOPERATORS, "teleoperator", SimExpertTeleopConfig(task="so101_pick_cube"))
