"""Every task on every path: SimRobot + its expert as a teleoperator, ``bricobot record`` with a
per-task expert preset, vectorized ``bricobot eval`` and ``bricobot demo mode=expert``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakes.runtime_policy import tiny_act_checkpoint

from bricobot.cli.main import main
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.envs.registry import ENVS
from bricobot.robots.sim import SimRobot, SimRobotConfig
from bricobot.runtime.commands import make_teleop
from bricobot.teleop.sim_expert import SimExpertTeleopConfig


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_sim_robot_driven_by_the_task_expert_teleoperator(name: str) -> None:
    robot = SimRobot(SimRobotConfig(task=name, task_config={"cameras": ["front"]}, seed=1))
    teleop = make_teleop(SimExpertTeleopConfig(task=name), robot)
    with robot, teleop:
        assert list(teleop.action_features) == list(robot.action_features)
        observation = robot.get_observation()
        assert observation["front"].shape == (96, 96, 3)
        joints = [k for k in observation if k.endswith(".pos")]
        assert joints == list(robot.action_features)
        for _ in range(10):
            sent = robot.send_action(teleop.get_action())
        assert set(sent) == set(robot.action_features)


def test_expert_teleoperator_refuses_a_robot_running_another_task() -> None:
    robot = SimRobot(SimRobotConfig(task_config={"cameras": []}))
    with pytest.raises(ValueError, match=r"robot\.task=so101_push_t"):
        make_teleop(SimExpertTeleopConfig(task="so101_push_t"), robot)


def test_record_with_a_task_expert_preset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "stack"
    code = main(
        [
            "record",
            "robot=so101_sim",
            "robot.task=so101_stack_cube",
            "+robot.task_config={cameras: [front], image_height: 32, image_width: 32}",
            "teleop=so101_stack_cube_expert",
            f"dataset.root={root}",
            "dataset.num_episodes=2",
            "dataset.episode_time_s=0.5",
            "dataset.reset_time_s=0",
            "dataset.task=stack the cubes",
            # H.264: this test is about the task and its expert, not the AV1 encoder.
            "dataset.codec=libx264",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert validate(root).ok
    assert DatasetMeta.load(root).total_frames == 30


def test_vectorized_eval_on_the_bimanual_task(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    name = "bimanual_so101_transfer_cube"
    small = {"cameras": ["front"], "image_height": 32, "image_width": 32}
    robot = SimRobot(SimRobotConfig(task=name, task_config=small))
    checkpoint = tiny_act_checkpoint(robot, tmp_path / "act")
    out = tmp_path / "eval"
    args = [
        "eval",
        f"policy_path={checkpoint}",
        f"env={name}",
        "env.cameras=[front]",
        "env.image_height=32",
        "env.image_width=32",
        "env.episode_length=3",
        "eval.episodes=2",
        "eval.num_envs=2",
        "eval.videos=0",
        "eval.progress=false",
        f"output_dir={out}",
    ]
    assert main(args) == 0, capsys.readouterr().err
    info = json.loads((out / "eval_info.json").read_text())
    assert [e["steps"] for e in info["per_episode"]] == [3, 3]


def test_demo_expert_mode_on_push_t(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "env=so101_push_t",
            "env.cameras=[front]",
            "env.image_height=32",
            "env.image_width=32",
            "mode=expert",
            "episodes=1",
            "seed=1",
            f"output_dir={out}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "expert_results.json").read_text())
    assert result["successes"] == 1
