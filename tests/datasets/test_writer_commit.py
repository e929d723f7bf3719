"""The writer refuses what it cannot store before buffering it, and a save is one atomic step:
info.json's rename commits the episode, so a save cut short at any point leaves a valid dataset."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bricobot.datasets import writer as writer_mod
from bricobot.datasets.metadata import DatasetError, DatasetMeta
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.schema import FrameError
from bricobot.datasets.validate import validate
from bricobot.datasets.writer import DatasetWriter
from tests.datasets.test_crash import run_child
from tests.fakes.fake_dataset import FPS, make_features, make_frame, state_value

FEATURES = make_features(cameras=("front",))


def new_writer(root: Path, features: dict[str, Any] | None = None) -> DatasetWriter:
    return DatasetWriter.create(root, FPS, features or FEATURES, "fake_arm", codec="libx264")


def record(writer: DatasetWriter, episode: int, task: str, n: int = 4) -> int:
    for i in range(n):
        writer.add_frame(make_frame(FEATURES, episode, i), task=task)
    return writer.save_episode()


@pytest.mark.parametrize(
    ("task", "expected"),
    [(b"pick \xff", "task must be a str, got bytes"), ("pick \udcff", "not valid text")],
)
def test_a_task_that_is_not_text_is_refused_before_anything_is_buffered(
    tmp_path: Path, task: Any, expected: str
) -> None:
    with new_writer(tmp_path / "ds") as writer:
        record(writer, 0, "pick the cube")
        writer.add_frame(make_frame(FEATURES, 1, 0), task="pick the cube")
        with pytest.raises(FrameError, match=expected):
            writer.add_frame(make_frame(FEATURES, 1, 1), task=task)
        assert writer.episode_frames == 1  # the refused frame was not buffered
        for i in range(1, 4):
            writer.add_frame(make_frame(FEATURES, 1, i), task="pick the cube")
        assert writer.save_episode() == 1
        assert record(writer, 2, "a new task") == 2  # later saves with new tasks still work
    assert validate(tmp_path / "ds").ok
    meta = DatasetMeta.load(tmp_path / "ds")
    assert meta.tasks == ["pick the cube", "a new task"] and meta.total_episodes == 3


def test_a_camera_without_a_size_is_refused_before_the_dataset_exists(tmp_path: Path) -> None:
    features = make_features(hw=(0, 0), cameras=("front",))
    with pytest.raises(DatasetError, match=r"'observation.images.front' has shape \(0, 0, 3\)"):
        new_writer(tmp_path / "ds", features)
    assert not (tmp_path / "ds").exists()


def test_create_continues_after_a_create_killed_before_info_json(tmp_path: Path) -> None:
    (tmp_path / "ds" / "meta").mkdir(parents=True)
    (tmp_path / "ds" / "meta" / "info.json.123.tmp").write_text("{")
    with new_writer(tmp_path / "ds") as writer:
        record(writer, 0, "t")
    assert validate(tmp_path / "ds").ok


def test_a_save_that_fails_before_its_commit_leaves_the_dataset_and_the_writer_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = writer_mod.write_info_and_stats
    calls = {"n": 0}

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    with new_writer(tmp_path / "ds") as writer:
        record(writer, 0, "t")
        monkeypatch.setattr(writer_mod, "write_info_and_stats", fail_once)
        with pytest.raises(OSError, match="No space"):
            record(writer, 1, "a task never committed")
        report = validate(tmp_path / "ds")  # the episode row was written, info.json was not
        assert report.ok, report.summary()
        assert DatasetMeta.load(tmp_path / "ds").total_episodes == 1
        assert record(writer, 2, "t") == 1
    meta = DatasetMeta.load(tmp_path / "ds")
    assert meta.tasks == ["t"] and meta.total_episodes == 2
    np.testing.assert_array_equal(
        BricobotDataset(tmp_path / "ds")[4]["observation.state"].numpy(), state_value(2, 0)
    )
    assert validate(tmp_path / "ds").ok


# crash_child's renames: create() 1-4; episode 0: 5 video, 6 tasks, 7 data, 8 episodes rows,
# 9 stats.json, 10 info.json (the commit); episode 1: 11 video, 12 tasks, 13 data, 14 rows,
# 15 stats.json, 16 info.json.
@pytest.mark.parametrize("rename", [15, 16])
def test_resume_after_a_kill_between_the_rows_and_info_json_does_not_duplicate(
    tmp_path: Path, rename: int
) -> None:
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, f"replace:{rename}")
    assert rc == -signal.SIGKILL and saved == {0}, out
    report = validate(root)  # without repair
    assert report.ok, report.summary()
    assert any("interrupted before its commit" in n for n in report.notes)
    assert DatasetMeta.load(root).total_episodes == 1  # the unreported episode is not there
    features = make_features(hw=(48, 64), cameras=("front",))
    with DatasetWriter.resume(root, FPS, features, "fake_arm", codec="libx264") as writer:
        assert writer.num_episodes == 1
        for i in range(8):
            writer.add_frame(make_frame(features, 7, i), task="re-recorded")
        assert writer.save_episode() == 1
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 2 and meta.tasks == ["task 0", "re-recorded"]
    assert json.loads((root / "meta/info.json").read_text())["total_episodes"] == 2
    ds = BricobotDataset(root)
    np.testing.assert_array_equal(ds[8]["observation.state"].numpy(), state_value(7, 0))
    assert validate(root).ok
