"""The demo pipeline end to end on the real PickCube sim, tiny: record (through the runtime's
recorder, as video) → train (through the data loader and frame cache) → evaluate → report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.reader import BricobotDataset
from bricobot.envs.tasks.pick_cube import PickCubeConfig
from bricobot.evaluation.demo import DemoConfig, sim_demo

TINY = dict(
    chunk_size=4,
    dim_model=32,
    n_heads=2,
    dim_feedforward=64,
    n_encoder_layers=1,
    n_vae_encoder_layers=1,
    backbone_width=8,
    batch_size=8,
    image_size=[24, 24],
)


def test_demo_pipeline_records_trains_evaluates_and_reports(tmp_path: Path) -> None:
    cfg = DemoConfig(
        num_demos=3,
        steps=4,
        eval_episodes=4,
        eval_num_envs=2,
        eval_seed_start=100_000,
        videos=0,
        image_size=48,
        policy="act_cpu",
        policy_overrides=TINY,
        progress=False,
        num_workers=1,
    )
    result = sim_demo(PickCubeConfig(episode_length=80), tmp_path, cfg)
    assert result.demos_recorded == 3
    meta = DatasetMeta.load(tmp_path / "dataset")
    assert meta.total_episodes == 3
    assert meta.video_keys == ["observation.images.front", "observation.images.wrist"]
    assert list(meta.features["observation.images.front"]["shape"][:2]) == [48, 48]
    # Recorded on the simulation's clock: timestamps are exactly frame_index / fps.
    reader = BricobotDataset(tmp_path / "dataset", episodes=[0])
    frames = reader._columns["frame_index"][:, 0]
    np.testing.assert_allclose(reader._columns["timestamp"][:, 0], frames / 30, atol=1e-6)
    assert list((tmp_path / "frame_cache").rglob("cache.json"))  # trained from the frame cache
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
