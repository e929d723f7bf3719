"""The commands exactly as a user types them, against virtual arms on pseudo-terminals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.emulation.mujoco_arm import start_virtual_arm
from tests.e2e.conftest import (
    CAMERA_HW,
    ROBOT,
    VIRTUAL_REPLY_TIMEOUT_S,
    Arm,
    check_torque,
    timeout_args,
)
from tests.fakes.runtime_policy import tiny_act_checkpoint

pytestmark = pytest.mark.hardware


def _robot_args(arm: Arm, images: Path | None = None) -> list[str]:
    args = [
        f"robot={ROBOT}",
        f"robot.port={arm.port}",
        f"robot.calibration_path={arm.calibration_path}",
    ]
    if images is not None:
        h, w = CAMERA_HW
        args.append(
            f"+robot.cameras={{front: {{type: replay, path: '{images}', width: {w}, height: {h}, fps: 30, max_age_periods: 30}}}}"
        )
    return args


def _leader_args(arm: Arm) -> list[str]:
    return [
        f"teleop={ROBOT}_leader",
        f"teleop.port={arm.port}",
        f"teleop.calibration_path={arm.calibration_path}",
        *timeout_args(arm, "teleop"),
    ]


def test_record_replay_and_rollout_from_the_command_line(
    follower: Arm, leader: Arm, image_folder: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outputs/<command>/<time>/ land here
    root = tmp_path / "demo"
    code = main(
        [
            "record",
            *_robot_args(follower, image_folder),
            "robot.torque_on_exit=release",
            *_leader_args(leader),
            f"dataset.root={root}",
            "dataset.num_episodes=3",
            "dataset.episode_time_s=0.4",
            "dataset.reset_time_s=0.1",
            "dataset.task=follow",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "recorded 3 episode(s)" in capsys.readouterr().out
    assert validate(root).ok and DatasetMeta.load(root).total_episodes == 3
    check_torque(follower, on=False)

    code = main(["replay", *_robot_args(follower), f"dataset.root={root}", "dataset.episode=2"])
    assert code == 0, capsys.readouterr().err
    assert "replayed 12 steps" in capsys.readouterr().out

    from bricobot.registry import make
    from bricobot.robots.registry import ROBOTS
    from tests.e2e.conftest import camera_config, robot_config

    robot = make(
        ROBOTS, "robot", robot_config(follower, cameras={"front": camera_config(image_folder)})
    )
    checkpoint = tiny_act_checkpoint(robot, tmp_path / "act")
    code = main(
        [
            "rollout",
            *_robot_args(follower, image_folder),
            f"policy_path={checkpoint}",
            "episode_time_s=0.3",
            "num_episodes=1",
            f"dataset.root={tmp_path / 'eval'}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert validate(tmp_path / "eval").ok
    (run_dir,) = (tmp_path / "outputs" / "rollout").iterdir()
    assert (run_dir / "config.yaml").is_file() and (run_dir / "loop_timing.json").is_file()


@pytest.mark.parametrize("robot", ["so101", "koch"])
def test_teleoperate_each_arm_from_the_command_line(robot: str, tmp_path: Path, capsys) -> None:
    with (
        start_virtual_arm(robot, "follower", workdir=tmp_path) as follower,
        start_virtual_arm(robot, "leader", workdir=tmp_path) as leader,
    ):
        code = main(
            [
                "teleoperate",
                f"robot={robot}",
                f"robot.port={follower.port}",
                f"robot.calibration_path={follower.calibration_path}",
                f"robot.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
                f"teleop={robot}_leader",
                f"teleop.port={leader.port}",
                f"teleop.calibration_path={leader.calibration_path}",
                f"teleop.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
                "duration_s=0.5",
                "display=false",
            ]
        )
    assert code == 0, capsys.readouterr().err
    assert "15 steps" in capsys.readouterr().out


def test_a_missing_port_is_reported_by_name(capsys) -> None:
    assert main(["teleoperate", f"robot={ROBOT}", "teleop=keyboard", "duration_s=0.1"]) == 1
    assert "robot.port" in capsys.readouterr().err
