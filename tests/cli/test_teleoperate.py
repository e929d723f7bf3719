from __future__ import annotations

from tests.fakes.runtime_devices import ConfiguredFakeRobot, FakeRobotConfig, FakeTeleopConfig
from tests.fakes.runtime_registry import register_fakes

from bricobot.cli import teleoperate as teleoperate_cli
from bricobot.cli.teleoperate import TeleoperateCommandConfig


def test_teleoperate_runs_for_its_duration_and_leaves_torque_as_configured(
    monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    cfg = TeleoperateCommandConfig(
        robot=FakeRobotConfig(on_exit="hold"),
        teleop=FakeTeleopConfig(),
        fps=50,
        duration_s=0.2,
        display=True,
    )
    assert teleoperate_cli.run(cfg) == 0
    out = capsys.readouterr().out
    assert "10 steps" in out and "shoulder_pan" in out  # the timing summary and the display
    robot = ConfiguredFakeRobot.built[-1]
    assert len(robot.sent) == 10 and robot.torque_on and not robot.is_connected


def test_a_failure_is_reported_and_the_arm_still_stops(monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    cfg = TeleoperateCommandConfig(
        robot=FakeRobotConfig(on_exit="release", fail_at_step=3),
        teleop=FakeTeleopConfig(),
        fps=50,
        duration_s=1.0,
        display=False,
    )
    assert teleoperate_cli.run(cfg) == 1
    assert "fake failure at step 3" in capsys.readouterr().err
    robot = ConfiguredFakeRobot.built[-1]
    assert robot.events[-1] == "disconnect:release" and not robot.torque_on


def test_help_composes_the_default_presets(capsys) -> None:
    assert teleoperate_cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "robot:" in out and "teleop:" in out and "duration_s" in out
