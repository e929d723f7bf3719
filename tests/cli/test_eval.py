"""``bricobot eval`` on the real sim task with a tiny (untrained) checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.fakes.policy_batches import make_features, make_stats, tiny_act_config

from bricobot.cli.eval import main
from bricobot.policies.checkpoint import make_policy, save_policy

ENV = ["env=so101_pick_cube", "env.cameras=[front]", "env.image_height=32", "env.image_width=32"]


def checkpoint(tmp_path: Path, cameras: tuple[str, ...] = ("front",), name: str = "ckpt") -> Path:
    inputs, outputs = make_features(cameras=cameras, image_hw=(32, 32))
    cfg = tiny_act_config(input_features=inputs, output_features=outputs)
    return save_policy(make_policy(cfg, make_stats(inputs, outputs)), tmp_path / name)


def test_eval_writes_per_episode_results_and_a_video(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "eval"
    args = [
        f"policy_path={checkpoint(tmp_path)}",
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
        f"policy_path={checkpoint(tmp_path, cameras=('wrist',))}",
        *ENV,
        "eval.episodes=1",
        "eval.progress=false",
        f"output_dir={tmp_path / 'eval'}",
    ]
    assert main(args) == 1
    assert "observation.images.wrist" in capsys.readouterr().err


def test_eval_needs_a_checkpoint(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["env=so101_pick_cube", f"output_dir={tmp_path}"]) == 2
    assert "policy_path=" in capsys.readouterr().err


def test_eval_takes_the_training_run_folder(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The run folder ``train`` writes (outputs/train/<time>) is enough: its checkpoints/last."""
    run = tmp_path / "run"
    checkpoint(tmp_path, name="run/checkpoints/000004/pretrained_model")
    os.symlink("000004", run / "checkpoints" / "last")
    args = [f"policy_path={run}", *ENV, "env.episode_length=2", "eval.episodes=1"]
    args += ["eval.videos=0", "eval.progress=false", f"output_dir={tmp_path / 'eval'}"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1


def test_a_folder_that_is_no_checkpoint_is_named(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "nothing"
    folder.mkdir()
    assert main([f"policy_path={folder}", f"output_dir={tmp_path / 'eval'}"]) == 1
    err = capsys.readouterr().err
    assert f"{folder} is not a checkpoint" in err and "checkpoints/last/pretrained_model" in err
