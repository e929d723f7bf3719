"""The follower checks, on a real arm. Skipped unless a port is given (see conftest.py here).

The arm moves by at most a few degrees. Keep it clear of obstacles and keep a hand near the power.
The same code paths run in CI against the virtual arm (test_followers.py); only the port differs.
"""

from __future__ import annotations

import math
import time

import pytest

from bricobot.motors.spec import make_bus
from bricobot.registry import make
from bricobot.robots.follower import ServoFollower
from bricobot.robots.registry import ROBOTS

pytestmark = pytest.mark.hardware

NUDGE_DEG = 3.0


def connect_real(options: dict[str, str], **overrides: object) -> ServoFollower:
    config_cls = ROBOTS[options["robot"]].config_class()
    config = config_cls(port=options["port"], calibration_path=options["calibration"], **overrides)
    robot = make(ROBOTS, "robot", config)
    robot.connect()
    return robot


def goal_values(robot: ServoFollower) -> dict[str, float]:
    assert robot.bus is not None
    raw = robot.bus.sync_read("Goal_Position")
    return {n: robot.calibration[n].ticks_to_value(t) for n, t in raw.items()}


def test_connect_does_not_move_the_arm(real_arm_options: dict[str, str]) -> None:
    robot = connect_real(real_arm_options, torque_on_exit="release")
    try:
        first = robot.read_joint_positions()
        goals = goal_values(robot)
        time.sleep(0.5)
        later = robot.read_joint_positions()
    finally:
        robot.disconnect()
    for name, value in first.items():
        assert goals[name] == pytest.approx(value, abs=2.0), f"{name}: goal not set to present"
        assert later[name] == pytest.approx(value, abs=2.0), f"{name} moved after connect"


def test_nan_never_reaches_the_servos_and_big_steps_are_capped(
    real_arm_options: dict[str, str],
) -> None:
    robot = connect_real(real_arm_options, max_step_deg=NUDGE_DEG, torque_on_exit="release")
    try:
        present = robot.get_observation()
        action = {k: present[k] for k in robot.action_features}
        before = goal_values(robot)
        with pytest.raises(ValueError):
            robot.send_action({**action, "wrist_flex.pos": math.nan})
        assert goal_values(robot) == pytest.approx(before, abs=0.2)
        sent = robot.send_action({**action, "wrist_flex.pos": action["wrist_flex.pos"] + 45.0})
        assert sent["wrist_flex.pos"] == pytest.approx(
            action["wrist_flex.pos"] + NUDGE_DEG, abs=0.01
        )
        assert goal_values(robot)["wrist_flex"] == pytest.approx(sent["wrist_flex.pos"], abs=0.3)
        time.sleep(0.5)
        robot.send_action(action)  # back where it was
        time.sleep(0.5)
    finally:
        robot.disconnect()


def test_release_on_exit_turns_torque_off(real_arm_options: dict[str, str]) -> None:
    robot = connect_real(real_arm_options, torque_on_exit="release")
    robot.disconnect()
    with make_bus(robot.spec, real_arm_options["port"]) as bus:  # look after the robot let go
        assert set(bus.sync_read("Torque_Enable").values()) == {0}
