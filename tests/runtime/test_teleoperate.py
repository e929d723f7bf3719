"""Teleoperation without recording: display rows name the arm they show."""

from __future__ import annotations

import io
from types import SimpleNamespace

from bricobot.runtime.clock import FakeClock
from bricobot.runtime.teleoperate import JointDisplay, arm_label, teleoperate
from tests.fakes.runtime_devices import FakeRobot, FakeTeleop


def test_display_rows_name_the_arm_whose_goals_they_show() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    stream = io.StringIO()
    display = JointDisplay(every_s=0.5, stream=stream, arm=arm_label(robot))
    teleop = FakeTeleop()
    teleop.connect()
    result = teleoperate(robot, teleop, fps=10, duration_s=1.0, sinks=[display], clock=clock)
    rows = stream.getvalue().splitlines()
    assert result.steps == 10 and len(rows) == 2  # a row every 0.5 s
    assert rows[0].startswith("[   0.00 s] fake_arm goal:  shoulder_pan    1.00")
    assert rows[1].startswith("[   0.50 s] fake_arm goal:  shoulder_pan    6.00")


def test_a_configured_arm_name_labels_the_rows() -> None:
    robot = FakeRobot()
    robot.config = SimpleNamespace(name="follower")  # type: ignore[attr-defined]
    assert arm_label(robot) == "follower"
