"""``bricobot demo``: expert mode end to end, and config errors that list the valid choices."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from bricobot.cli.main import main


def test_expert_demo_reports_success_and_saves_a_video(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "mode=expert",
                "episodes=2",
                "env.image_height=48",
                "env.image_width=64",
                f"output_dir={out}",
            ]
        )
        == 0
    )
    results = json.loads((out / "expert_results.json").read_text())
    assert results["episodes"] == 2 and 0 <= results["wilson95"][0] <= results["success_rate"]
    assert (out / "config.yaml").read_text().count("mode: expert") == 1
    with av.open(str(out / "expert_episode.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 120


def test_unknown_key_lists_valid_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "env.cube_size=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'env.cube_size'" in err and "cube_x_range_m" in err


def test_unknown_preset_lists_valid_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "env=so101_stack"]) == 2
    err = capsys.readouterr().err
    assert "so101_stack" in err and "so101_pick_cube" in err


def test_bad_value_is_reported_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "mode=fast"]) == 2
    assert "mode must be 'full' or 'expert'" in capsys.readouterr().err
