"""Files follow LeRobot's v3.0 format facts (column names and types, info.json keys, episodes
columns, video stream properties), so LeRobot's own reader can load a bricobot dataset.

The test that runs LeRobot's own reader skips when ``lerobot`` is not importable. It passed with
lerobot 0.4.4 (wheel) + datasets, pandas, huggingface_hub on PYTHONPATH and torchvision/accelerate
stubbed (neither installs here), LeRobot's video decode routed through PyAV.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fakes.fake_dataset import make_features, state_value, write_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory):
    return write_dataset(
        tmp_path_factory.mktemp("f") / "ds", [6, 4], features=make_features(), codec="libsvtav1"
    )


def test_info_json(root) -> None:
    info = json.loads((root / "meta/info.json").read_text())
    for key in (
        "codebase_version",
        "robot_type",
        "fps",
        "total_episodes",
        "total_frames",
        "total_tasks",
        "chunks_size",
        "data_files_size_in_mb",
        "video_files_size_in_mb",
        "data_path",
        "video_path",
        "splits",
        "features",
    ):
        assert key in info, key
    assert info["codebase_version"] == "v3.0" and isinstance(info["fps"], int)
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert (
        info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    )
    assert (info["total_episodes"], info["total_frames"], info["splits"]) == (
        2,
        10,
        {"train": "0:2"},
    )
    feats = info["features"]
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert feats[key]["shape"] == [1]
    video = feats["observation.images.front"]
    assert video["dtype"] == "video" and video["names"] == ["height", "width", "channels"]
    for key in (
        "video.height",
        "video.width",
        "video.codec",
        "video.pix_fmt",
        "video.fps",
        "video.channels",
        "video.is_depth_map",
        "has_audio",
    ):
        assert key in video["info"], key
    assert video["info"]["video.codec"] == "av1" and video["info"]["video.pix_fmt"] == "yuv420p"


def test_data_parquet_columns(root) -> None:
    table = pq.read_table(root / "data/chunk-000/file-001.parquet")
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["observation.state"] == pa.list_(pa.float32(), 6)
    assert types["action"] == pa.list_(pa.float32(), 6)
    assert types["timestamp"] == pa.float32()
    for key in ("frame_index", "episode_index", "index", "task_index"):
        assert types[key] == pa.int64()
    assert "observation.images.front" not in types  # video features live in mp4 only
    assert table.column("index").to_pylist() == [6, 7, 8, 9]
    assert np.allclose(table.column("timestamp").to_numpy(), np.arange(4) / 30)
    np.testing.assert_array_equal(
        table.column("observation.state")[1].values.to_numpy(), state_value(1, 1)
    )


def test_episodes_and_tasks_parquet(root) -> None:
    eps = pq.read_table(next((root / "meta/episodes").glob("*/*.parquet")))
    for col in (
        "episode_index",
        "tasks",
        "length",
        "data/chunk_index",
        "data/file_index",
        "dataset_from_index",
        "dataset_to_index",
        "meta/episodes/chunk_index",
        "meta/episodes/file_index",
        "videos/observation.images.front/chunk_index",
        "videos/observation.images.front/file_index",
        "videos/observation.images.front/from_timestamp",
        "videos/observation.images.front/to_timestamp",
        "stats/action/mean",
        "stats/observation.images.front/std",
    ):
        assert col in eps.column_names, col
    assert eps.column("dataset_to_index").to_pylist() == [6, 10]
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["pick the cube"]
    assert tasks.column("task_index").to_pylist() == [0]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]


def test_video_stream_properties(root) -> None:
    path = root / "videos/observation.images.front/chunk-000/file-000.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("libdav1d", "av1")
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert stream.codec_context.pix_fmt == "yuv420p"
        keyframes = [p.is_keyframe for p in container.demux(stream) if p.pts is not None]
    assert len(keyframes) == 6 and all(keyframes[::2])  # a keyframe every 2 frames (g=2)


def test_stats_json(root) -> None:
    stats = json.loads((root / "meta/stats.json").read_text())
    assert set(stats["action"]) == {
        "min",
        "max",
        "mean",
        "std",
        "count",
        "q01",
        "q10",
        "q50",
        "q90",
        "q99",
    }
    assert np.asarray(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)
    assert len(stats["action"]["mean"]) == 6


@pytest.mark.skipif(importlib.util.find_spec("lerobot") is None, reason="lerobot is not installed")
@pytest.mark.parametrize("compacted", [False, True])
def test_loads_in_lerobot(tmp_path, monkeypatch, compacted: bool) -> None:
    """LeRobot's own v3.0 reader returns the same values and frames as ours.

    Without torchcodec, LeRobot decodes through torchvision; where neither is usable, its
    ``decode_video_frames`` is routed to PyAV so that LeRobot's own timestamp queries are tested.
    """
    import shutil

    import lerobot.datasets.lerobot_dataset as lerobot_dataset
    import torch

    from bricobot.datasets.compact import compact
    from bricobot.datasets.reader import BricobotDataset
    from bricobot.datasets.video import VideoDecoder

    if importlib.util.find_spec("torchcodec") is None:
        decoder = VideoDecoder()

        def decode(video_path, timestamps, tolerance_s, backend=None):  # type: ignore[no-untyped-def]
            frames = decoder.frames_at(Path(video_path), [float(t) for t in timestamps])
            return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255  # (k, C, H, W)

        monkeypatch.setattr(lerobot_dataset, "decode_video_frames", decode)
    root = tmp_path / "ds"
    write_dataset(
        root, [6, 4, 5], features=make_features(), codec="libsvtav1", tasks=["pick", "place"]
    )
    if compacted:
        compact(root)
    deltas = {"action": [0, 1 / 30, 2 / 30], "observation.images.front": [-1 / 30, 0]}
    theirs = lerobot_dataset.LeRobotDataset("local/bricobot", root=root, delta_timestamps=deltas)
    ours = BricobotDataset(root, delta_timestamps=deltas)
    assert len(theirs) == len(ours) == 15
    for i in range(len(ours)):
        a, b = theirs[i], ours[i]
        for key in (
            "observation.state",
            "action",
            "action_is_pad",
            "timestamp",
            "index",
            "task_index",
        ):
            assert torch.equal(
                torch.as_tensor(a[key]).reshape(-1), torch.as_tensor(b[key]).reshape(-1)
            )
        assert a["task"] == b["task"]
        for cam in ("observation.images.front", "observation.images.wrist"):
            assert (a[cam] - b[cam]).abs().max() <= 1 / 255
    shutil.rmtree(root)
