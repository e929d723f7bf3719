"""ReplayCamera: plays a generated mp4 or an image folder at its fps, loops or stops."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bricobot.cameras.base import CameraError
from bricobot.cameras.replay import ReplayCamera, ReplayCameraConfig


def write_mp4(path: Path, n_frames: int = 6, fps: int = 50) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.qscale = 1
        for i in range(n_frames):
            image = np.full((48, 64, 3), 20 + i * 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_mp4_plays_in_order_at_its_rate_and_loops(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "episode.mp4")
    with ReplayCamera(ReplayCameraConfig(path=str(path)), name="front") as camera:
        assert camera.shape == (48, 64, 3)
        assert camera.period_s == pytest.approx(1 / 50)
        frames = [camera.read() for _ in range(8)]
    levels = [int(np.median(f.image)) for f in frames]
    # The first reads follow the file; then playback starts again from the first frame.
    assert all(
        abs(a - b) <= 3 for a, b in zip(levels[:6], [20, 60, 100, 140, 180, 220], strict=True)
    )
    assert abs(levels[6] - 20) <= 3
    times = [f.capture_time_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))


def test_without_loop_the_camera_stops_and_reads_fail(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "short.mp4", n_frames=3)
    with ReplayCamera(ReplayCameraConfig(path=str(path), loop=False, fps=100)) as camera:
        for _ in range(3):
            camera.read()
        with pytest.raises(CameraError, match="end of the recording"):
            camera.read()
        time.sleep(0.05)
        with pytest.raises(CameraError, match="ms old"):
            camera.read_latest()


def test_image_folder_plays_sorted_and_resized(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((24, 32, 3), i * 50, np.uint8))
    config = ReplayCameraConfig(path=str(folder), fps=100, width=64, height=48)
    with ReplayCamera(config) as camera:
        images = [camera.read().image for _ in range(3)]
    assert [img.shape for img in images] == [(48, 64, 3)] * 3
    assert [int(img[0, 0, 0]) for img in images] == [0, 50, 100]


def test_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"missing\.mp4"):
        ReplayCamera(ReplayCameraConfig(path=str(tmp_path / "missing.mp4"))).connect()
