"""Write → read round trips: values exact, frames within codec tolerance, windows and padding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from bricobot.datasets.metadata import DatasetError, DatasetMeta
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.schema import FrameError
from bricobot.datasets.writer import DatasetWriter
from tests.fakes.fake_dataset import (
    FPS,
    image_value,
    make_features,
    make_frame,
    state_value,
    write_dataset,
)

CODEC_TOLERANCE = 3 / 255  # flat grey frames survive yuv420p + lossy coding within a few levels


@pytest.fixture(scope="module")
def video_root(tmp_path_factory: pytest.TempPathFactory):
    return write_dataset(tmp_path_factory.mktemp("ds") / "video", [12, 9], codec="libsvtav1")


def test_values_and_frames_round_trip(video_root) -> None:
    ds = BricobotDataset(video_root)
    assert len(ds) == 21
    assert ds.meta.fps == FPS and ds.meta.total_episodes == 2
    for idx, (ep, fi) in enumerate([(0, i) for i in range(12)] + [(1, i) for i in range(9)]):
        item = ds[idx]
        assert int(item["episode_index"]) == ep and int(item["frame_index"]) == fi
        assert int(item["index"]) == idx
        np.testing.assert_array_equal(item["observation.state"].numpy(), state_value(ep, fi))
        np.testing.assert_array_equal(item["action"].numpy(), -state_value(ep, fi))
        assert float(item["timestamp"]) == pytest.approx(fi / FPS)
        for c, cam in enumerate(["front", "wrist"]):
            img = item[f"observation.images.{cam}"]
            assert img.shape == (3, 48, 64) and img.dtype == torch.float32
            assert abs(img.mean().item() - image_value(ep, fi, c) / 255) < CODEC_TOLERANCE
        assert item["task"] == "pick the cube"


def test_delta_timestamps_pad_at_episode_edges(video_root) -> None:
    ds = BricobotDataset(
        video_root,
        episodes=[1],
        delta_timestamps={
            "action": [i / FPS for i in range(-1, 4)],
            "observation.images.front": [-1 / FPS, 0.0],
        },
    )
    first, last = ds[0], ds[len(ds) - 1]
    assert first["action"].shape == (5, 6)
    assert first["action_is_pad"].tolist() == [True, False, False, False, False]
    np.testing.assert_array_equal(first["action"][0].numpy(), -state_value(1, 0))  # clamped
    np.testing.assert_array_equal(first["action"][3].numpy(), -state_value(1, 2))
    assert last["action_is_pad"].tolist() == [False, False, True, True, True]
    assert first["observation.images.front"].shape == (2, 3, 48, 64)
    assert first["observation.images.front_is_pad"].tolist() == [True, False]
    means = last["observation.images.front"].mean(dim=(1, 2, 3))
    expected = torch.tensor([image_value(1, 7, 0), image_value(1, 8, 0)]) / 255
    assert torch.allclose(means, expected, atol=CODEC_TOLERANCE)


def test_delta_timestamps_off_the_frame_grid_are_rejected(video_root) -> None:
    with pytest.raises(ValueError, match="multiples of 1/30"):
        BricobotDataset(video_root, delta_timestamps={"action": [0.01]})


def test_frame_cache_matches_video_decoding(video_root, tmp_path) -> None:
    plain = BricobotDataset(video_root)
    cached = BricobotDataset(video_root, frame_cache=True, frame_cache_dir=tmp_path / "cache")
    for idx in (0, 5, 11, 12, 20):
        a, b = plain[idx], cached[idx]
        for key in ("observation.images.front", "observation.images.wrist"):
            assert torch.equal(a[key], b[key])
    small = dict(image_size=(24, 32), uint8_images=True)
    resized = BricobotDataset(video_root, frame_cache=True, frame_cache_dir=tmp_path, **small)
    from_video = BricobotDataset(video_root, **small)  # resized in the reader: the same pixels
    assert resized[3]["observation.images.front"].shape == (3, 24, 32)
    assert resized[3]["observation.images.front"].dtype == torch.uint8
    assert torch.equal(
        resized[3]["observation.images.front"], from_video[3]["observation.images.front"]
    )
    assert not any((video_root / "meta").parent.glob(".cache"))  # nothing written into the dataset


def test_image_transforms_are_applied(video_root) -> None:
    ds = BricobotDataset(video_root, image_transforms=lambda img: 1.0 - img)
    plain = BricobotDataset(video_root)
    assert torch.allclose(
        ds[4]["observation.images.front"], 1 - plain[4]["observation.images.front"]
    )


def test_dataloader_with_workers(video_root) -> None:
    ds = BricobotDataset(video_root, delta_timestamps={"action": [i / FPS for i in range(4)]})
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    assert sum(len(b["index"]) for b in batches) == len(ds)
    assert batches[0]["observation.images.front"].shape == (4, 3, 48, 64)
    assert batches[0]["action"].shape == (4, 4, 6)


def test_image_dataset_round_trips_exactly(tmp_path) -> None:
    root = write_dataset(tmp_path / "img", [5, 4], use_videos=False)
    meta = DatasetMeta.load(root)
    assert meta.features["observation.images.front"]["dtype"] == "image"
    assert meta.info["video_path"] is None
    assert not (root / "videos").exists() and not (root / "images").exists()
    ds = BricobotDataset(root)
    item = ds[6]  # episode 1, frame 1
    assert torch.equal(
        item["observation.images.wrist"],
        torch.full((3, 48, 64), image_value(1, 1, 1) / 255),
    )


def test_stats_are_written_per_episode_and_aggregated(video_root) -> None:
    meta = DatasetMeta.load(video_root)
    states = np.stack([state_value(e, i) for e, n in ((0, 12), (1, 9)) for i in range(n)])
    np.testing.assert_allclose(meta.stats["observation.state"]["mean"], states.mean(0), rtol=1e-6)
    np.testing.assert_allclose(meta.stats["observation.state"]["std"], states.std(0), rtol=1e-6)
    np.testing.assert_array_equal(meta.stats["observation.state"]["max"], states.max(0))
    assert meta.stats["observation.images.front"]["mean"].shape == (3, 1, 1)
    ep0 = meta.episode_stats(0)["observation.state"]
    np.testing.assert_allclose(ep0["q50"], np.quantile(states[:12], 0.5, axis=0))


def test_resume_appends_and_refuses_different_settings(tmp_path) -> None:
    root = write_dataset(tmp_path / "r", [4])
    features = make_features()
    with DatasetWriter.resume(root, FPS, features, "fake_arm", codec="libx264") as writer:
        for i in range(3):
            writer.add_frame(make_frame(features, 1, i), task="place")
        assert writer.save_episode() == 1
    meta = DatasetMeta.load(root)
    assert meta.total_episodes == 2 and meta.tasks == ["pick the cube", "place"]
    other = make_features(cameras=("front", "side"))
    with pytest.raises(DatasetError) as info:
        DatasetWriter.resume(root, 15, other, "koch")
    message = str(info.value)
    for expected in ("fps is 30", "robot_type", "observation.images.side", "camera set differs"):
        assert expected in message


def test_create_refuses_an_existing_dataset(tmp_path) -> None:
    root = write_dataset(tmp_path / "x", [2])
    with pytest.raises(DatasetError, match="resume"):
        DatasetWriter.create(root, FPS, make_features(), "fake_arm")


def test_bad_frames_and_discard(tmp_path) -> None:
    features = make_features()
    with DatasetWriter.create(tmp_path / "d", FPS, features, "fake_arm", codec="libx264") as w:
        frame = make_frame(features, 0, 0)
        bad = dict(frame)
        bad["observation.images.front"] = np.zeros((10, 10, 3), np.uint8)
        del bad["action"]
        with pytest.raises(FrameError, match=r"missing 'action'.*observation\.images\.front"):
            w.add_frame(bad, task="t")
        for i in range(3):
            w.add_frame(make_frame(features, 0, i), task="t")
        w.discard_episode()
        with pytest.raises(DatasetError, match="no frames"):
            w.save_episode()
        for i in range(2):
            w.add_frame(make_frame(features, 0, i), task="t")
        w.save_episode()
    assert DatasetMeta.load(tmp_path / "d").total_frames == 2


def test_timing_drift_is_flagged(tmp_path) -> None:
    features = make_features(cameras=("front",))
    with DatasetWriter.create(tmp_path / "t", FPS, features, "fake_arm", codec="libx264") as w:
        for e in range(2):
            for i in range(6):
                frame = make_frame(features, e, i)
                if e == 1 and i == 3:  # one loop overrun of 100 ms
                    frame["timing.time_s"] += 0.1
                w.add_frame(frame, task="t")
            w.save_episode()
    eps = DatasetMeta.load(tmp_path / "t").episodes
    assert eps[0]["timing/drifted"] is False
    assert eps[1]["timing/drifted"] is True and eps[1]["timing/overruns"] >= 1


def test_close_discards_unsaved_frames_with_a_warning(tmp_path) -> None:
    features = make_features(cameras=("front",))
    w = DatasetWriter.create(tmp_path / "c", FPS, features, "fake_arm", codec="libx264")
    w.add_frame(make_frame(features, 0, 0), task="t")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w.close()
    assert any("unsaved" in str(c.message) for c in caught)


def test_image_augment_keeps_shape_range_and_is_seeded() -> None:
    from bricobot.datasets.transforms import ImageAugment, ImageAugmentConfig

    img = torch.rand(3, 48, 64)
    a = ImageAugment(seed=0)(img)
    assert a.shape == img.shape and a.min() >= 0.0 and a.max() <= 1.0
    assert torch.equal(a, ImageAugment(seed=0)(img)) and not torch.equal(a, img)
    off = ImageAugmentConfig(brightness=0, contrast=0, saturation=0, max_shift_px=0)
    assert torch.equal(ImageAugment(off)(img), img)
    with pytest.raises(ValueError, match="brightness"):
        ImageAugmentConfig(brightness=1.5)
