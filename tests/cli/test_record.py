from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pytest
from tests.fakes.runtime_devices import (
    ConfiguredFakeRobot,
    FakeRobot,
    FakeRobotConfig,
    FakeTeleopConfig,
)
from tests.fakes.runtime_policy import tiny_act_checkpoint
from tests.fakes.runtime_registry import register_fakes

from bricobot.cli import record as record_cli
from bricobot.cli import rollout as rollout_cli
from bricobot.cli import teleoperate as teleoperate_cli
from bricobot.cli.record import RecordCommandConfig
from bricobot.cli.rollout import RolloutCommandConfig
from bricobot.cli.teleoperate import TeleoperateCommandConfig
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


def test_record_then_resume_appends_episodes(tmp_path: Path, monkeypatch, capsys, caplog) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    cfg = _config(root, num_episodes=2, task="wave")
    cfg.output_dir = str(tmp_path / "out")
    with caplog.at_level(logging.INFO):
        assert record_cli.run(cfg) == 0
    out = capsys.readouterr().out
    assert f"recorded 2 episode(s) into {root}" in out
    assert out.count("control loop over 2 episode(s): 12 steps") == 1  # printed once, at the end
    assert "holds" not in caplog.text  # no second count in the log
    assert caplog.messages[:2] == [  # the keys, before anything is recorded
        "episode keys off (keyboard=false or no terminal): each episode runs its full time",
        "Ctrl-C: stop now (the episode in progress is discarded; saved ones stay); "
        "twice: release torque at once",
    ]
    timing = json.loads((tmp_path / "out" / "loop_timing.json").read_text())["episodes"]
    assert [t["steps"] for t in timing] == [6, 6]
    assert set(timing[0]["stages_ms"]) == {"read", "infer", "send", "write"}
    robot = ConfiguredFakeRobot.built[-1]
    assert not robot.torque_on and robot.events[-1] == "disconnect:release"
    assert record_cli.run(_config(root, num_episodes=1, resume=True, task="wave")) == 0
    assert f"recorded 1 episode(s) into {root} (it now holds 3)" in capsys.readouterr().out
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
    assert "`dataset.resume=true`" in capsys.readouterr().err  # the key the command line takes
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


def test_an_exception_mid_episode_keeps_saved_episodes(
    tmp_path: Path, monkeypatch, capsys, caplog
) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    cfg = _config(root, num_episodes=3)
    cfg.robot.fail_at_step = 8  # during the second episode (6 steps each)
    assert record_cli.run(cfg) == 1
    assert "fake failure" in capsys.readouterr().err
    assert f"stopped by an error: episode 2 discarded; 1 episode saved in {root}" in caplog.text
    robot = ConfiguredFakeRobot.built[-1]
    assert robot.events[-1] == "disconnect:release" and not robot.torque_on
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 1 and meta.total_frames == 6


@pytest.mark.parametrize("argv", [["--help"]])
def test_help_lists_the_dataset_options(argv, capsys) -> None:
    assert record_cli.main(argv) == 0
    assert "Drive a robot with a teleoperator" in capsys.readouterr().out


def _interrupt_at_read(monkeypatch: pytest.MonkeyPatch, read: int) -> None:
    """Make the fake robot send this process a Ctrl-C (SIGINT) when it is read the ``read``-th time."""
    original = ConfiguredFakeRobot.get_observation

    def observe(self):  # type: ignore[no-untyped-def]
        if self.reads + 1 == read:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self)

    monkeypatch.setattr(ConfiguredFakeRobot, "get_observation", observe)


def test_ctrl_c_mid_episode_says_which_episode_was_discarded(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    root = tmp_path / "ds"
    # 6 steps per episode, 2 in the reset: read 10 is in episode 2.
    _interrupt_at_read(monkeypatch, 10)
    assert record_cli.run(_config(root, num_episodes=3)) == 130
    out = capsys.readouterr().out
    assert (
        f"interrupted (SIGINT): episode 2 discarded (not saved); 1 episode saved in {root}" in out
    )
    assert DatasetMeta.load(root).total_episodes == 1
    robot = ConfiguredFakeRobot.built[-1]
    assert robot.events[-1] == "disconnect:release" and not robot.torque_on


def _teleoperate(tmp_path: Path) -> int:
    return teleoperate_cli.run(
        TeleoperateCommandConfig(
            robot=FakeRobotConfig(), teleop=FakeTeleopConfig(), fps=30, display=False
        )
    )


def _rollout(tmp_path: Path) -> int:
    checkpoint = tiny_act_checkpoint(FakeRobot(), tmp_path / "act")
    return rollout_cli.run(
        RolloutCommandConfig(
            robot=FakeRobotConfig(), policy_path=str(checkpoint), num_episodes=2, keyboard=False
        )
    )


def _record(tmp_path: Path) -> int:
    return record_cli.run(_config(tmp_path / "ds", num_episodes=2))


@pytest.mark.parametrize("command", [_teleoperate, _rollout, _record])
def test_every_realtime_command_exits_130_when_interrupted(
    command, tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    _interrupt_at_read(monkeypatch, 3)
    assert command(tmp_path) == 130
    assert "interrupted (SIGINT)" in capsys.readouterr().out
