"""A policy trained on downscaled images runs on a robot whose cameras give full-size frames: the
checkpoint's ``image_size`` is applied to live frames, with no user step, on the sim twin and on the
virtual arm with replay cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bricobot.cameras.resize import fit_frame
from bricobot.cli.main import main
from bricobot.policies.act.model import ACTModel
from bricobot.policies.base import observation_to_batch
from bricobot.policies.checkpoint import load_policy
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobotConfig
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.rollout import run_rollout
from tests.e2e.conftest import Arm, camera_config, robot_config
from tests.fakes.runtime_policy import tiny_act_checkpoint

SMALL = "+robot.task_config={cameras: [front], image_height: 48, image_width: 64}"


@pytest.fixture
def seen_image_shapes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Shapes of the camera tensors that reach the ACT network."""
    shapes: list[tuple[int, ...]] = []
    original = ACTModel.forward

    def spy(self, batch, *args, **kwargs):  # type: ignore[no-untyped-def]
        shapes.extend(
            tuple(v.shape) for k, v in batch.items() if k.startswith("observation.images.")
        )
        return original(self, batch, *args, **kwargs)

    monkeypatch.setattr(ACTModel, "forward", spy)
    return shapes


def test_live_frames_get_the_training_resize(tmp_path: Path) -> None:
    robot = make(ROBOTS, "robot", SimRobotConfig(task_config={"cameras": ["front"]}))
    policy = load_policy(tiny_act_checkpoint(robot, tmp_path / "act", image_size=[24, 32]))
    frame = np.random.default_rng(0).integers(0, 255, (96, 96, 3), np.uint8)
    batch = observation_to_batch(
        {"observation.images.front": frame, "observation.state": np.zeros(6)}, policy.config
    )
    expected = torch.from_numpy(fit_frame(frame, (24, 32))).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(batch["observation.images.front"][0], expected)


def test_downscaled_policy_rolls_out_on_the_full_size_sim_twin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen_image_shapes: list, capsys
) -> None:  # type: ignore[type-arg]
    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.chdir(tmp_path)
    robot = make(
        ROBOTS,
        "robot",
        SimRobotConfig(task_config={"cameras": ["front"], "image_height": 48, "image_width": 64}),
    )
    checkpoint = tiny_act_checkpoint(robot, tmp_path / "act", image_size=[24, 32])
    code = main(
        [
            "rollout",
            "robot=so101_sim",
            SMALL,
            f"policy_path={checkpoint}",
            "num_episodes=1",
            "episode_time_s=0.2",
            "reset_time_s=0",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert seen_image_shapes and set(seen_image_shapes) == {(1, 3, 24, 32)}


@pytest.mark.hardware
def test_downscaled_policy_rolls_out_on_the_virtual_arm_with_replay_cameras(
    follower: Arm, image_folder: Path, tmp_path: Path, seen_image_shapes: list
) -> None:  # type: ignore[type-arg]
    config = robot_config(follower, cameras={"front": camera_config(image_folder)})
    checkpoint = tiny_act_checkpoint(
        make(ROBOTS, "robot", config), tmp_path / "act", image_size=[24, 32]
    )
    result = run_rollout(
        config,
        str(checkpoint),
        num_episodes=1,
        episode_time_s=0.3,
        reset_time_s=0.0,
        fps=30,
        dataset=DatasetConfig(root=str(tmp_path / "eval"), task="policy"),
        keyboard=False,
    )
    assert result.episodes == 1
    assert seen_image_shapes and set(seen_image_shapes) == {(1, 3, 24, 32)}
