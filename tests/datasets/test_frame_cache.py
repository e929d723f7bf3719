"""The on-disk decoded-frame cache: outside the dataset, at the policy's size, reused, rebuilt when
the dataset changes, resumable after an interruption, refused when the disk cannot hold it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bricobot.cameras.resize import fit_frame
from bricobot.datasets import frame_cache as fc
from bricobot.datasets.frame_cache import FrameCache, FrameCacheError
from bricobot.datasets.frames import episode_frames
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.writer import DatasetWriter
from tests.fakes.policy_dataset import write_dataset

FRONT = "observation.images.front"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recorded") / "ds"
    return write_dataset(root, episodes=3, length=12, image_hw=(24, 32), use_videos=True)


@pytest.fixture()
def dataset(recorded: Path, tmp_path: Path) -> Path:
    """A fresh copy per test (one test appends an episode)."""
    return Path(shutil.copytree(recorded, tmp_path / "ds"))


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRICOBOT_CACHE_DIR", str(tmp_path / "cache_home"))
    return tmp_path / "cache_home"


def expected_frames(meta: DatasetMeta, key: str, size: tuple[int, int]) -> np.ndarray:
    frames = [
        fit_frame(f, size) for e in range(meta.total_episodes) for f in episode_frames(meta, e, key)
    ]
    return np.stack(frames)


def test_cache_lives_outside_the_dataset_at_the_requested_size(
    dataset: Path, cache_home: Path
) -> None:
    meta = DatasetMeta.load(dataset)
    cache = FrameCache.open_or_build(meta, (12, 12), progress=False)
    assert cache.folder.is_relative_to(cache_home) and not cache.folder.is_relative_to(dataset)
    rows = np.arange(meta.total_frames)
    np.testing.assert_array_equal(cache.frames(FRONT, rows), expected_frames(meta, FRONT, (12, 12)))
    assert not list(dataset.rglob("*.u8"))


def test_cache_is_reused_then_rebuilt_when_the_dataset_changes(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FrameCache.open_or_build(DatasetMeta.load(dataset), (12, 16), progress=False)
    builds: list[int] = []
    original = fc._Builder.run
    monkeypatch.setattr(fc._Builder, "run", lambda self: builds.append(1) or original(self))
    FrameCache.open_or_build(DatasetMeta.load(dataset), (12, 16), progress=False)
    assert builds == []  # reused
    features = DatasetMeta.load(dataset).features
    with DatasetWriter.resume(dataset, fps=30, features=features, robot_type="so101_sim") as writer:
        for _ in range(5):
            writer.add_frame(
                {
                    "observation.state": np.zeros(6, np.float32),
                    "action": np.zeros(6, np.float32),
                    FRONT: np.full((24, 32, 3), 200, np.uint8),
                },
                task="reach",
            )
        writer.save_episode()
    meta = DatasetMeta.load(dataset)
    cache = FrameCache.open_or_build(meta, (12, 16), progress=False)
    assert builds == [1] and cache.total_frames == 3 * 12 + 5
    np.testing.assert_array_equal(
        cache.frames(FRONT, np.arange(36, 41)), expected_frames(meta, FRONT, (12, 16))[36:]
    )


def test_an_interrupted_build_continues_where_it_stopped(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bricobot.datasets.frames as frames_module

    meta = DatasetMeta.load(dataset)
    real = frames_module.episode_frames
    decoded: list[int] = []
    stop_at = [2]

    def counting(meta_: DatasetMeta, ep: int, key: str):  # type: ignore[no-untyped-def]
        decoded.append(ep)
        if ep in stop_at:
            raise KeyboardInterrupt  # Ctrl-C while decoding the third episode
        yield from real(meta_, ep, key)

    monkeypatch.setattr(frames_module, "episode_frames", counting)
    with pytest.raises(KeyboardInterrupt):
        FrameCache.open_or_build(meta, (12, 16), progress=False)
    folder = fc.cache_folder(meta, (12, 16), None)
    assert not (folder / "cache.json").exists()  # never read as complete
    decoded.clear()
    stop_at.clear()
    cache = FrameCache.open_or_build(meta, (12, 16), progress=False)
    assert decoded == [2]  # episodes 0 and 1 were kept from the first attempt
    np.testing.assert_array_equal(
        cache.frames(FRONT, np.arange(meta.total_frames)), expected_frames(meta, FRONT, (12, 16))
    )


def test_a_cache_the_disk_cannot_hold_is_refused_with_the_fix(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(fc.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(FrameCacheError, match=r"needs .* free.*frame_cache_dir.*image_size"):
        FrameCache.open_or_build(DatasetMeta.load(dataset), (12, 16), progress=False)


def test_a_truncated_cache_file_is_an_error_naming_it(dataset: Path) -> None:
    cache = FrameCache.open_or_build(DatasetMeta.load(dataset), (12, 16), progress=False)
    path = cache.folder / fc.camera_file(FRONT)
    path.write_bytes(path.read_bytes()[: 12 * 16 * 3 * 5])
    with pytest.raises(FrameCacheError, match="truncated at frame 7"):
        cache.frames(FRONT, np.array([7]))
