"""``bricobot record`` refuses settings that would record a silently wrong dataset, before anything
moves, and the documented camera presets record datasets that pass ``validate``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from tests.e2e.conftest import CAMERA_HW, ROBOT, Arm, timeout_args

SMALL = "cameras: [front], image_height: 32, image_width: 32"


@pytest.fixture
def _headless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MUJOCO_GL", os.environ.get("MUJOCO_GL", "egl"))
    monkeypatch.chdir(tmp_path)


def sim_record(root: Path, fps: int, task_config: str) -> list[str]:
    return [
        "record",
        "robot=so101_sim",
        f"+robot.task_config={{{task_config}}}",
        "teleop=so101_pick_cube_expert",
        f"dataset.root={root}",
        f"dataset.fps={fps}",
        "dataset.num_episodes=1",
        "dataset.episode_time_s=0.4",
        "dataset.reset_time_s=0",
        "keyboard=false",
        "progress=false",
    ]


@pytest.mark.usefixtures("_headless")
def test_the_sim_at_another_rate_than_the_recording_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """30 frames stamped 2.0 s for 1.0 s of physics would pass validate: refuse it up front."""
    root = tmp_path / "pick"
    assert main(sim_record(root, 15, SMALL)) == 1
    err = capsys.readouterr().err
    assert "15 fps" in err and "control_hz=30" in err and "dataset.fps=30" in err
    assert not root.exists()  # refused before the dataset (or the robot) was opened


@pytest.mark.usefixtures("_headless")
def test_the_sim_recorded_at_its_own_rate_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "pick"
    assert main(sim_record(root, 15, f"{SMALL}, control_hz: 15")) == 0, capsys.readouterr().err
    meta = DatasetMeta.load(root)
    assert meta.fps == 15 and meta.total_frames == 6
    assert validate(root).ok


def test_the_replay_camera_preset_records_at_its_source_size(
    image_folder: Path, follower: Arm, leader: Arm, tmp_path: Path
) -> None:
    """The preset documented in hydra_configs/robot/so101.yaml, without width or height."""
    root = tmp_path / "ds"
    code = main(
        [
            "record",
            f"robot={ROBOT}",
            f"robot.port={follower.port}",
            f"robot.calibration_path={follower.calibration_path}",
            "+camera@robot.cameras.top=replay",
            f"robot.cameras.top.path={image_folder}",
            "robot.cameras.top.max_age_periods=30",
            f"teleop={ROBOT}_leader",
            f"teleop.port={leader.port}",
            f"teleop.calibration_path={leader.calibration_path}",
            *timeout_args(follower, "robot"),
            *timeout_args(leader, "teleop"),
            f"dataset.root={root}",
            "dataset.num_episodes=1",
            "dataset.episode_time_s=0.3",
            "dataset.reset_time_s=0",
            "keyboard=false",
            "progress=false",
            f"output_dir={tmp_path / 'out'}",
        ]
    )
    assert code == 0
    meta = DatasetMeta.load(root)
    assert meta.features["observation.images.top"]["shape"] == (*CAMERA_HW, 3)
    assert meta.total_episodes == 1
    report = validate(root)
    assert report.ok, report.summary()
