"""compact, edit and repair produce datasets that validate and read back the same values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from bricobot.datasets import edit
from bricobot.datasets.compact import compact
from bricobot.datasets.metadata import DatasetError, DatasetMeta
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.validate import validate
from tests.fakes.fake_dataset import make_features, state_value, write_dataset


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features = make_features(cameras=("front", "wrist"))
    return write_dataset(
        tmp_path_factory.mktemp("t") / "src", [5, 4, 6], features=features, tasks=["pick", "place"]
    )


def snapshot(root: Path) -> list[dict]:
    ds = BricobotDataset(root)
    return [ds[i] for i in range(len(ds))]


def same_items(a: list[dict], b: list[dict], skip: tuple[str, ...] = ()) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for key in x:
            if key in skip:
                continue
            if isinstance(x[key], torch.Tensor):
                assert torch.equal(x[key], y[key]), key
            else:
                assert x[key] == y[key], key


def test_compact_merges_files_and_keeps_every_value(source: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(source, tmp_path / "c"))
    before = snapshot(root)
    report = compact(root)
    assert report.files_after == 3 < report.files_before == 9  # 1 data + 2 videos
    assert validate(root).ok
    same_items(before, snapshot(root))
    meta = DatasetMeta.load(root)
    assert meta.episodes[2]["videos/observation.images.front/from_timestamp"] == pytest.approx(
        9 / 30
    )


def test_resume_after_compact_appends(source: Path, tmp_path: Path) -> None:
    from bricobot.datasets.writer import DatasetWriter
    from tests.fakes.fake_dataset import FPS, make_frame

    root = Path(shutil.copytree(source, tmp_path / "c"))
    compact(root)
    features = make_features(cameras=("front", "wrist"))
    with DatasetWriter.resume(root, FPS, features, "fake_arm", codec="libx264") as w:
        for i in range(3):
            w.add_frame(make_frame(features, 3, i), task="pick")
        w.save_episode()
    assert validate(root).ok
    assert BricobotDataset(root).meta.total_episodes == 4


def test_delete_episodes_writes_a_new_valid_dataset(source: Path, tmp_path: Path) -> None:
    before = snapshot(source)
    out = edit.delete_episodes(source, tmp_path / "out", [1])
    assert validate(out).ok
    after = snapshot(out)
    assert len(after) == 11
    same_items(before[:5], after[:5])
    assert torch.equal(after[5]["observation.state"], torch.from_numpy(state_value(2, 0)))
    assert int(after[5]["episode_index"]) == 1 and int(after[5]["index"]) == 5
    same_items(before, snapshot(source))  # the source is untouched


def test_wrong_episode_index_is_rejected_before_writing(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[7\] do not exist.*valid: 0…2"):
        edit.delete_episodes(source, tmp_path / "out", [7])
    with pytest.raises(ValueError, match="do not exist"):
        edit.split(source, {tmp_path / "a": [0], tmp_path / "b": [1, 9]})
    assert not any(tmp_path.iterdir())


def test_split_merge_relabel(source: Path, tmp_path: Path) -> None:
    a, b = edit.split(source, {tmp_path / "a": [0, 2], tmp_path / "b": [1]})
    assert validate(a).ok and validate(b).ok
    assert DatasetMeta.load(a).total_episodes == 2
    merged = edit.merge([b, a], tmp_path / "m")
    assert validate(merged).ok
    items = snapshot(merged)
    assert torch.equal(items[0]["observation.state"], torch.from_numpy(state_value(1, 0)))
    relabeled = edit.relabel_task(source, tmp_path / "r", "place", "place the cube")
    meta = DatasetMeta.load(relabeled)
    assert meta.tasks == ["pick", "place the cube"]
    assert [ep["tasks"] for ep in meta.episodes] == [["pick"], ["place the cube"], ["pick"]]
    assert validate(relabeled).ok
    with pytest.raises(DatasetError, match="already exists"):
        edit.merge([a, b], tmp_path / "m")


def test_merge_refuses_different_features(source: Path, tmp_path: Path) -> None:
    other = write_dataset(tmp_path / "o", [3], features=make_features(cameras=("front",)))
    with pytest.raises(DatasetError, match="camera set differs"):
        edit.merge([source, other], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_repair_removes_leftovers_and_fixes_counts(source: Path, tmp_path: Path) -> None:
    import json

    root = Path(shutil.copytree(source, tmp_path / "r"))
    (root / "data/chunk-000/file-009.parquet.123.tmp").write_bytes(b"partial")
    info = json.loads((root / "meta/info.json").read_text())
    info["total_frames"] = 999
    (root / "meta/info.json").write_text(json.dumps(info))
    assert not validate(root).ok
    from bricobot.datasets.repair import repair

    report = repair(root)
    assert any("unfinished" in a for a in report.actions)
    assert validate(root).ok and DatasetMeta.load(root).info["total_frames"] == 15


def test_validate_reports_idle_frames_jumps_and_drift(tmp_path: Path) -> None:
    from bricobot.datasets.writer import DatasetWriter
    from tests.fakes.fake_dataset import FPS, make_frame

    features = make_features(cameras=("front",))
    with DatasetWriter.create(tmp_path / "v", FPS, features, "fake_arm", codec="libx264") as w:
        for i in range(50):
            frame = make_frame(features, 0, min(i, 5))  # action frozen after frame 5: idle
            frame["timing.time_s"] = 1000.0 + i / FPS
            if i == 30:
                frame["observation.state"] = frame["observation.state"] + 45.0  # a jump
            w.add_frame(frame, task="t")
        w.save_episode()
    report = validate(tmp_path / "v")
    assert report.ok
    text = "\n".join(report.notes)
    assert "idle frames" in text and "jump" in text
