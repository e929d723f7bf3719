from __future__ import annotations

import os
from pathlib import Path

from tests.fakes.runtime_devices import ConfiguredFakeRobot, FakeRobot, FakeRobotConfig
from tests.fakes.runtime_policy import tiny_act_checkpoint
from tests.fakes.runtime_registry import register_fakes

from bricobot.cli import rollout as rollout_cli
from bricobot.cli.rollout import RolloutCommandConfig
from bricobot.datasets.metadata import DatasetMeta
from bricobot.runtime.commands import DatasetConfig


def test_rollout_of_a_checkpoint_with_recording(tmp_path: Path, monkeypatch, capsys) -> None:
    register_fakes(monkeypatch)
    checkpoint = tiny_act_checkpoint(FakeRobot(cameras={"front": (32, 32, 3)}), tmp_path / "act")
    cfg = RolloutCommandConfig(
        robot=FakeRobotConfig(cameras={"front": [32, 32, 3]}, on_exit="release"),
        policy_path=str(checkpoint),
        num_episodes=2,
        episode_time_s=0.1,
        reset_time_s=0.0,
        fps=50,
        dataset=DatasetConfig(root=str(tmp_path / "eval")),
        keyboard=False,
    )
    assert rollout_cli.run(cfg) == 0
    assert "ran 2 episode(s)" in capsys.readouterr().out
    assert DatasetMeta.load(tmp_path / "eval").total_frames == 10
    assert not ConfiguredFakeRobot.built[-1].torque_on


def test_a_checkpoint_for_other_cameras_is_refused_before_connecting(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    checkpoint = tiny_act_checkpoint(FakeRobot(cameras={"front": (32, 32, 3)}), tmp_path / "act")
    cfg = RolloutCommandConfig(
        robot=FakeRobotConfig(cameras={"wrist": [32, 32, 3]}),
        policy_path=str(checkpoint),
        keyboard=False,
    )
    assert rollout_cli.run(cfg) == 1
    err = capsys.readouterr().err
    assert "observation.images.front" in err and "wrist" in err
    assert ConfiguredFakeRobot.built[-1].events == []


def test_policy_path_is_required(capsys) -> None:
    assert rollout_cli.run(RolloutCommandConfig(robot=FakeRobotConfig())) == 2
    assert "policy_path" in capsys.readouterr().err


def test_the_readme_checkpoint_path_is_accepted(tmp_path: Path, monkeypatch, capsys) -> None:
    """``policy_path=outputs/train/<time>/checkpoints/last`` as the README prints it."""
    register_fakes(monkeypatch)
    run = tmp_path / "outputs" / "train" / "20250101-120000"
    robot = FakeRobot(cameras={"front": (32, 32, 3)})
    tiny_act_checkpoint(robot, run / "checkpoints" / "000010" / "pretrained_model")
    os.symlink("000010", run / "checkpoints" / "last")
    cfg = RolloutCommandConfig(
        robot=FakeRobotConfig(cameras={"front": [32, 32, 3]}, on_exit="release"),
        policy_path=str(run / "checkpoints" / "last"),
        episode_time_s=0.1,
        reset_time_s=0.0,
        fps=50,
        keyboard=False,
    )
    assert rollout_cli.run(cfg) == 0, capsys.readouterr().err
