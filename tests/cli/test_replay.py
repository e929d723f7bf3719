from __future__ import annotations

from pathlib import Path

from tests.fakes.runtime_devices import ConfiguredFakeRobot, FakeRobotConfig, FakeTeleopConfig
from tests.fakes.runtime_registry import register_fakes

from bricobot.cli import record as record_cli
from bricobot.cli import replay as replay_cli
from bricobot.cli.record import RecordCommandConfig
from bricobot.cli.replay import ReplayCommandConfig, ReplayDatasetConfig
from bricobot.runtime.commands import DatasetConfig


def test_replay_sends_the_recorded_actions(tmp_path: Path, monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    record_cfg = RecordCommandConfig(
        robot=FakeRobotConfig(),
        teleop=FakeTeleopConfig(),
        dataset=DatasetConfig(
            root=str(root), fps=50, num_episodes=2, episode_time_s=0.1, reset_time_s=0.0
        ),
        keyboard=False,
    )
    assert record_cli.run(record_cfg) == 0
    recorded = ConfiguredFakeRobot.built[-1].sent
    cfg = ReplayCommandConfig(
        robot=FakeRobotConfig(), dataset=ReplayDatasetConfig(root=str(root), episode=1)
    )
    assert replay_cli.run(cfg) == 0
    assert "replayed 5 steps" in capsys.readouterr().out
    assert ConfiguredFakeRobot.built[-1].sent == recorded[5:]


def test_a_missing_episode_is_refused_before_the_robot_moves(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    cfg = ReplayCommandConfig(
        robot=FakeRobotConfig(), dataset=ReplayDatasetConfig(root=str(tmp_path / "none"))
    )
    assert replay_cli.run(cfg) == 1
    assert "does not exist" in capsys.readouterr().err
    assert ConfiguredFakeRobot.built == []


def test_root_is_required(capsys) -> None:
    assert replay_cli.run(ReplayCommandConfig(robot=FakeRobotConfig())) == 2
    assert "dataset.root" in capsys.readouterr().err
