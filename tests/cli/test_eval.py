"""``bricobot eval`` on the real sim task with a tiny (untrained) checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fakes.policy_batches import make_features, make_stats, tiny_act_config

from bricobot.cli.eval import main
from bricobot.policies.checkpoint import make_policy, save_policy

ENV = ["env=so101_pick_cube", "env.cameras=[front]", "env.image_height=32", "env.image_width=32"]


def checkpoint(tmp_path: Path, cameras: tuple[str, ...] = ("front",)) -> Path:
    inputs, outputs = make_features(cameras=cameras, image_hw=(32, 32))
    cfg = tiny_act_config(input_features=inputs, output_features=outputs)
    return save_policy(make_policy(cfg, make_stats(inputs, outputs)), tmp_path / "ckpt")


def test_eval_writes_per_episode_results_and_a_video(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "eval"
    args = [
        f"policy.path={checkpoint(tmp_path)}",
        *ENV,
        "env.episode_length=4",
        "eval.episodes=3",
        "eval.num_envs=2",
        "eval.videos=1",
        "eval.progress=false",
        f"output_dir={out}",
    ]
    assert main(args) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert [e["seed"] for e in info["per_episode"]] == [1_000_000, 1_000_001, 1_000_002]
    assert all(e["steps"] == 4 for e in info["per_episode"])
    assert len(info["summary"]["ci95_wilson"]) == 2
    assert (out / "videos/episode_0000.mp4").stat().st_size > 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 3


def test_eval_refuses_a_policy_whose_camera_the_env_lacks(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = [
        f"policy.path={checkpoint(tmp_path, cameras=('wrist',))}",
        *ENV,
        "eval.episodes=1",
        "eval.progress=false",
        f"output_dir={tmp_path / 'eval'}",
    ]
    assert main(args) == 1
    assert "observation.images.wrist" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["env=so101_pick_cube"], ["policy.path=x"]])
def test_eval_needs_a_checkpoint_and_an_env(args: list[str], tmp_path: Path) -> None:
    assert main([*args, f"output_dir={tmp_path}"]) == 2
