from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakes.runtime_devices import ConfiguredFakeRobot, FakeRobotConfig, FakeTeleopConfig
from tests.fakes.runtime_registry import register_fakes

from bricobot.cli import record as record_cli
from bricobot.cli.record import RecordCommandConfig
from bricobot.datasets.metadata import DatasetMeta
from bricobot.runtime.commands import DatasetConfig


def _config(root: Path, **dataset) -> RecordCommandConfig:
    return RecordCommandConfig(
        robot=FakeRobotConfig(cameras={"front": [32, 48, 3]}, on_exit="release"),
        teleop=FakeTeleopConfig(),
        dataset=DatasetConfig(
            root=str(root), fps=30, episode_time_s=0.2, reset_time_s=0.05, **dataset
        ),
        keyboard=False,
    )


def test_record_then_resume_appends_episodes(tmp_path: Path, monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    cfg = _config(root, num_episodes=2, task="wave")
    cfg.output_dir = str(tmp_path / "out")
    assert record_cli.run(cfg) == 0
    assert "recorded 2 episode(s)" in capsys.readouterr().out
    timing = json.loads((tmp_path / "out" / "loop_timing.json").read_text())["episodes"]
    assert [t["steps"] for t in timing] == [6, 6]
    assert set(timing[0]["stages_ms"]) == {"read", "infer", "send", "write"}
    robot = ConfiguredFakeRobot.built[-1]
    assert not robot.torque_on and robot.events[-1] == "disconnect:release"
    assert record_cli.run(_config(root, num_episodes=1, resume=True, task="wave")) == 0
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 3 and meta.total_frames == 18
    assert meta.tasks == ["wave"]


def test_an_existing_dataset_without_resume_is_refused_before_anything_moves(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    assert record_cli.run(_config(root)) == 0
    assert record_cli.run(_config(root)) == 1
    assert "resume" in capsys.readouterr().err
    assert ConfiguredFakeRobot.built[-1].events == []  # never connected


def test_resume_with_other_cameras_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    assert record_cli.run(_config(root)) == 0
    cfg = _config(root, resume=True)
    cfg.robot.cameras = {"wrist": [32, 48, 3]}
    assert record_cli.run(cfg) == 1
    err = capsys.readouterr().err
    assert "cannot append" in err and "wrist" in err
    assert ConfiguredFakeRobot.built[-1].events == []


def test_an_exception_mid_episode_keeps_saved_episodes(tmp_path: Path, monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    cfg = _config(root, num_episodes=3)
    cfg.robot.fail_at_step = 8  # during the second episode (6 steps each)
    assert record_cli.run(cfg) == 1
    assert "fake failure" in capsys.readouterr().err
    robot = ConfiguredFakeRobot.built[-1]
    assert robot.events[-1] == "disconnect:release" and not robot.torque_on
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 1 and meta.total_frames == 6


@pytest.mark.parametrize("argv", [["--help"]])
def test_help_lists_the_dataset_options(argv, capsys) -> None:
    assert record_cli.main(argv) == 0
    assert "Drive a robot with a teleoperator" in capsys.readouterr().out
