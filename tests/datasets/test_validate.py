"""``validate`` on folders that are no dataset at all: say so and how to get one, not `repair`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.datasets.validate import validate
from tests.fakes.fake_dataset import write_dataset


def test_a_folder_without_metadata_or_data_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a dataset")
    report = validate(tmp_path)
    assert not report.ok
    summary = report.summary()
    assert f"{tmp_path} is not a dataset: it has no meta/info.json" in summary
    assert "bricobot record" in summary and "repair" not in summary


def test_a_missing_folder_is_named_without_suggesting_repair(tmp_path: Path) -> None:
    summary = validate(tmp_path / "nowhere").summary()
    assert f"{tmp_path / 'nowhere'} does not exist" in summary and "repair" not in summary


def test_a_dataset_that_lost_its_info_json_still_points_to_repair(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds", [3])
    (root / "meta" / "info.json").unlink()
    summary = validate(root).summary()
    assert "not a dataset" not in summary and f"bricobot dataset repair root={root}" in summary


def test_the_command_says_the_folder_is_not_a_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dataset", "validate", f"root={tmp_path}"]) == 1
    out = capsys.readouterr().out
    assert "is not a dataset" in out and "dataset.root=" in out and "repair" not in out
