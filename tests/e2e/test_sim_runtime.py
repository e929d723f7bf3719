"""The same commands on the MuJoCo twin: SimRobot driven by the scripted PickCube expert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bricobot.cli.main import main
from bricobot.datasets.metadata import DatasetMeta, read_parquet
from bricobot.datasets.validate import validate
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobotConfig
from tests.fakes.runtime_policy import tiny_act_checkpoint

SMALL = "+robot.task_config={cameras: [front], image_height: 48, image_width: 64}"


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.chdir(tmp_path)


def test_record_replay_and_rollout_on_the_sim_twin(tmp_path: Path, capsys) -> None:
    root = tmp_path / "pick"
    code = main(
        [
            "record",
            "robot=so101_sim",
            SMALL,
            "teleop=so101_pick_cube_expert",
            f"dataset.root={root}",
            "dataset.num_episodes=3",
            "dataset.episode_time_s=0.5",
            "dataset.reset_time_s=0",
            "dataset.task=pick the cube",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = validate(root)
    assert report.ok, report.summary()
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 3 and meta.total_frames == 45
    # Each episode starts from a new seeded scene, so the expert's demonstrations differ.
    firsts = [
        np.asarray(read_parquet(meta.data_path(e), root, ["action"])["action"][5].as_py())
        for e in range(3)
    ]
    assert not np.allclose(firsts[0], firsts[1])

    code = main(["replay", "robot=so101_sim", SMALL, f"dataset.root={root}", "dataset.episode=1"])
    assert code == 0, capsys.readouterr().err
    assert "replayed 15 steps" in capsys.readouterr().out

    robot = make(
        ROBOTS,
        "robot",
        SimRobotConfig(task_config={"cameras": ["front"], "image_height": 48, "image_width": 64}),
    )
    checkpoint = tiny_act_checkpoint(robot, tmp_path / "act")
    code = main(
        [
            "rollout",
            "robot=so101_sim",
            SMALL,
            f"policy_path={checkpoint}",
            "num_episodes=2",
            "episode_time_s=0.3",
            "reset_time_s=0",
            f"dataset.root={tmp_path / 'eval'}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert validate(tmp_path / "eval").ok
    assert DatasetMeta.load(tmp_path / "eval").total_frames == 18


def test_a_checkpoint_for_other_cameras_is_refused_on_the_twin(tmp_path: Path, capsys) -> None:
    robot = make(ROBOTS, "robot", SimRobotConfig(task_config={"cameras": ["wrist"]}))
    checkpoint = tiny_act_checkpoint(robot, tmp_path / "act")
    code = main(["rollout", "robot=so101_sim", SMALL, f"policy_path={checkpoint}"])
    assert code == 1
    assert "observation.images.wrist" in capsys.readouterr().err
