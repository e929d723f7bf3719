"""scripts/benchmark_suite.py end to end on one task with tiny settings, and its resume."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark_suite.py"
TINY_POLICY = {
    "image_size": [32, 32],
    "dim_model": 32,
    "dim_feedforward": 64,
    "n_heads": 2,
    "backbone_width": 8,
    "batch_size": 4,
}


def load_suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_suite", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def args(out: Path, steps: int) -> list[str]:
    return [
        f"--out={out}",
        "--tasks=so101_place_cube",
        "--demos=2",
        f"--steps={steps}",
        "--eval-episodes=2",
        "--image-size=32",
        "--cameras=front",
        "--policy=act_cpu",
        f"--policy-overrides={json.dumps(TINY_POLICY)}",
        "--randomize",
        "--codec=libx264",  # this test is about the suite, not the AV1 encoder
        "--eval-videos=0",
        "--num-threads=1",
        "--no-progress",
    ]


def test_suite_records_trains_evaluates_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUJOCO_GL", "egl")
    suite = load_suite()
    out = tmp_path / "bench"
    table = suite.run_suite(suite.parse_args(args(out, steps=2)))
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert [r["gym_id"] for r in rows] == ["bricobot/SO101PlaceCubeRand-v0"]
    row = rows[0]
    assert row["demos"] == 2 and row["steps"] == 2 and row["episodes"] == 2
    low, high = row["ci95_wilson"]
    assert 0.0 <= low <= row["success_rate"] <= high <= 1.0
    assert set(row["wall_s"]) == {"record", "train", "eval"}
    assert "SO101PlaceCubeRand-v0" in table.read_text()
    info = json.loads((out / "so101_place_cube/dataset/meta/info.json").read_text())
    assert info["bricobot_sim"]["env_config"]["randomize"] is True
    assert "friction_scale_range" in info["bricobot_sim"]["env_config"]["randomization"]

    # A finished row is skipped; with it gone, the dataset is reused, training continues from
    # its last checkpoint and the new checkpoint is evaluated again.
    dataset_mtime = (out / "so101_place_cube/dataset/meta/info.json").stat().st_mtime
    (out / "so101_place_cube/row.json").unlink()
    suite.run_suite(suite.parse_args(args(out, steps=3)))
    row = json.loads((out / "benchmark.json").read_text())["rows"][0]
    assert row["steps"] == 3
    assert (out / "so101_place_cube/dataset/meta/info.json").stat().st_mtime == dataset_mtime
    evaluated = (out / "so101_place_cube/eval/checkpoint.txt").read_text()
    assert "000003" in evaluated

    # Rows of earlier runs with other --tasks stay in the table (two suites may share --out).
    other = {**row, "task": "so101_pick_cube", "gym_id": "bricobot/SO101PickCubeRand-v0"}
    (out / "so101_pick_cube").mkdir()
    (out / "so101_pick_cube/row.json").write_text(json.dumps(other))
    suite.run_suite(suite.parse_args(args(out, steps=3)))
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert [r["task"] for r in rows] == ["so101_pick_cube", "so101_place_cube"]
    assert "SO101PickCubeRand-v0" in (out / "benchmark.md").read_text()
