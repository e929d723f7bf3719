"""Damaged datasets give an error naming the file and the fix, never an empty or shifted result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bricobot.datasets.metadata import DatasetError
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.repair import repair
from bricobot.datasets.validate import validate
from bricobot.datasets.video import VideoDecodeError
from tests.fakes.fake_dataset import make_features, write_dataset


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features = make_features(cameras=("front",))
    return write_dataset(tmp_path_factory.mktemp("c") / "ds", [6, 5, 7], features=features)


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "ds"))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_parquet(root: Path) -> None:
    bad = root / "data/chunk-000/file-001.parquet"
    truncate(bad)
    with pytest.raises(DatasetError) as info:
        BricobotDataset(root)
    assert str(bad) in str(info.value) and "bricobot dataset repair" in str(info.value)
    report = validate(root)
    assert not report.ok and any(str(bad) in e for e in report.errors)
    repaired = repair(root)
    assert repaired.dropped_episodes == [1]
    assert BricobotDataset(root).meta.total_episodes == 2


def test_truncated_mp4(root: Path) -> None:
    bad = root / "videos/observation.images.front/chunk-000/file-002.mp4"
    truncate(bad)
    ds = BricobotDataset(root)  # metadata is fine; the damage shows when the frames are read
    with pytest.raises(VideoDecodeError) as info:
        for i in range(11, len(ds)):
            ds[i]
    assert str(bad) in str(info.value)
    report = validate(root)
    assert not report.ok and any(str(bad) in e for e in report.errors)
    assert repair(root).dropped_episodes == [2]
    assert validate(root).ok


def test_malformed_info_json(root: Path) -> None:
    info = root / "meta/info.json"
    info.write_text(info.read_text()[:40])
    with pytest.raises(DatasetError) as exc:
        BricobotDataset(root)
    assert str(info) in str(exc.value) and "repair" in str(exc.value)
    repair(root)  # rebuilt from the copy kept in the data files
    assert BricobotDataset(root).meta.total_frames == 18


def test_missing_video_file(root: Path) -> None:
    gone = root / "videos/observation.images.front/chunk-000/file-000.mp4"
    gone.unlink()
    ds = BricobotDataset(root)
    with pytest.raises(VideoDecodeError, match=r"file-000\.mp4.*repair"):
        ds[0]
    assert repair(root).dropped_episodes == [0]
    ds = BricobotDataset(root)
    assert ds.meta.total_episodes == 2 and int(ds[0]["episode_index"]) == 0


def test_episode_index_gap(root: Path) -> None:
    meta_file = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(meta_file)
    pq.write_table(_drop_row(table, 1), meta_file)
    with pytest.raises(DatasetError) as info:
        BricobotDataset(root)
    assert "not contiguous" in str(info.value) and "missing [1]" in str(info.value)
    assert "repair" in str(info.value)
    report = repair(root)  # the data of episode 1 is intact: its metadata is rebuilt from it
    assert any("rebuilt the episodes metadata" in a for a in report.actions)
    ds = BricobotDataset(root)
    assert [int(ep["length"]) for ep in ds.meta.episodes] == [6, 5, 7]
    assert validate(root).ok


def _drop_row(table, row: int):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    keep = [i for i in range(table.num_rows) if i != row]
    return table.take(pa.array(keep))


def test_video_shorter_than_data_is_an_error(root: Path) -> None:
    """A video missing frames (per-camera drop) is reported, and reading past it fails loudly."""
    from bricobot.datasets.video import concat_segments

    video = root / "videos/observation.images.front/chunk-000/file-000.mp4"
    short = root / "short.mp4"
    concat_segments([(video, 0.0, 4 / 30)], short)  # 4 of the episode's 6 frames
    short.replace(video)
    report = validate(root)
    assert any("holds 4 frames" in e for e in report.errors)
    ds = BricobotDataset(root)
    with pytest.raises(VideoDecodeError, match="no frame at"):
        ds[5]
