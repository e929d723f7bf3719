"""The demo pipeline end to end on a tiny task: record → dataset → train → evaluate → report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gymnasium.wrappers import TimeLimit
from tests.fakes.policy_env import ReachEnv, reach_expert

from bricobot.training.pipeline import DemoConfig, run_demo

TINY = dict(
    chunk_size=4,
    dim_model=32,
    n_heads=2,
    dim_feedforward=64,
    n_encoder_layers=1,
    n_vae_encoder_layers=1,
    backbone_width=8,
    batch_size=8,
)


def test_demo_pipeline_records_trains_evaluates_and_reports(tmp_path: Path) -> None:
    cfg = DemoConfig(
        num_demos=3,
        steps=4,
        eval_episodes=4,
        eval_num_envs=2,
        videos=0,
        policy="act_cpu",
        policy_overrides=TINY,
        progress=False,
    )
    result = run_demo(lambda: TimeLimit(ReachEnv(), 10), reach_expert, tmp_path, cfg, fps=10)
    assert result.demos_recorded == 3
    assert (tmp_path / "dataset/meta/info.json").is_file()
    assert result.checkpoint.joinpath("model.safetensors").is_file()
    assert len(result.eval.episodes) == 4
    assert {e["seed"] for e in result.eval.episodes}.isdisjoint(range(0, 100))
    report = result.report_path.read_text()
    assert "Success rate" in report and "Wilson" in report and "bricobot eval" in report
    summary = json.loads((tmp_path / "report.json").read_text())
    assert set(summary["stage_s"]) == {"record", "train", "eval", "total"}


def test_demo_refuses_overlapping_seed_ranges() -> None:
    with pytest.raises(ValueError, match="eval_seed_start"):
        DemoConfig(num_demos=100, demo_seed_start=0, eval_seed_start=50)
