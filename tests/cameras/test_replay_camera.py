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
from bricobot.runtime.clock import FakeClock


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


class TickingClock(FakeClock):
    """Fake time that moves 1 µs at each reading: capture times still increase, but frames age
    only when the test advances it, so a reader starved on a busy machine never sees them stale."""

    def __init__(self, start_s: float = 1000.0) -> None:
        super().__init__(start_s)
        self._ticks = itertools.count(1)  # next() is atomic: two threads read this clock

    def now(self) -> float:
        return self.time_s + next(self._ticks) * 1e-6


def read_until_end(camera: ReplayCamera, deadline_s: float = 30.0) -> tuple[list, str]:
    """Every frame a reader gets until the (non-looping) recording runs out, and the error.

    A read that found no new frame before the end (the capture thread starved on a busy machine)
    is tried again: playback may be late, never out of order.
    """
    frames = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            frames.append(camera.read())
        except CameraError as exc:
            if "end of the recording" in str(exc):
                return frames, str(exc)
    raise AssertionError(f"the recording never ended ({len(frames)} frames in {deadline_s} s)")


def level(frame) -> int:  # type: ignore[no-untyped-def]
    return int(np.median(frame.image))


def test_mp4_plays_in_order_at_its_rate_then_stops(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "episode.mp4")
    config = ReplayCameraConfig(path=str(path), loop=False, max_age_periods=20)
    with ReplayCamera(config, name="front", clock=TickingClock().now) as camera:
        assert camera.shape == (48, 64, 3)
        assert camera.period_s == pytest.approx(1 / 50)
        frames, error = read_until_end(camera)
    assert "end of the recording" in error
    expected = [20, 60, 100, 140, 180, 220]
    # A slow reader may skip frames, never repeat one or go back; the last frame is always seen.
    steps = [min(range(6), key=lambda i, f=f: abs(expected[i] - level(f))) for f in frames]
    assert all(abs(expected[i] - level(f)) <= 3 for i, f in zip(steps, frames, strict=True))
    assert steps == sorted(set(steps)) and steps[-1] == 5
    times = [f.capture_time_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))


def test_looping_playback_starts_again(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "episode.mp4", n_frames=4)
    config = ReplayCameraConfig(path=str(path), fps=100, max_age_periods=50)
    with ReplayCamera(config, clock=TickingClock().now) as camera:
        levels = [level(camera.read(timeout_s=30.0)) for _ in range(12)]
    assert any(b < a for a, b in itertools.pairwise(levels))  # wrapped around at least once
    assert min(levels) >= 17 and max(levels) <= 143


def test_without_loop_reads_fail_once_the_last_frame_is_too_old(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "short.mp4", n_frames=3)
    config = ReplayCameraConfig(path=str(path), loop=False, fps=100, max_age_periods=10)
    clock = TickingClock()
    with ReplayCamera(config, clock=clock.now) as camera:
        frames, error = read_until_end(camera)
        assert len(frames) in (1, 2, 3)
        assert "end of the recording" in error
        assert level(camera.read_latest()) == level(frames[-1])  # the last frame, still fresh
        clock.advance(0.15)  # > 10 periods of 10 ms since it was captured
        with pytest.raises(CameraError, match="ms old"):
            camera.read_latest()


def test_image_folder_plays_sorted_and_resized(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((24, 32, 3), i * 50, np.uint8))
    config = ReplayCameraConfig(
        path=str(folder), fps=100, width=64, height=48, loop=False, max_age_periods=20
    )
    with ReplayCamera(config, clock=TickingClock().now) as camera:
        frames, _ = read_until_end(camera)
    assert all(f.image.shape == (48, 64, 3) for f in frames)
    values = [int(f.image[0, 0, 0]) for f in frames]
    assert values == sorted(set(values)) and values[-1] == 100
    assert set(values) <= {0, 50, 100}


def test_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"missing\.mp4"):
        ReplayCamera(ReplayCameraConfig(path=str(tmp_path / "missing.mp4"))).connect()


def test_size_comes_from_the_video_before_connect(tmp_path: Path) -> None:
    """A dataset is opened before the cameras start: the size must be known without width/height."""
    path = write_mp4(tmp_path / "episode.mp4")
    camera = ReplayCamera(ReplayCameraConfig(path=str(path)), name="top")
    assert camera.shape == (48, 64, 3)
    assert not camera.is_connected


def test_size_comes_from_the_first_image_before_connect(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.png"), np.zeros((24, 32, 3), np.uint8))
    assert ReplayCamera(ReplayCameraConfig(path=str(folder))).shape == (24, 32, 3)
    sized = ReplayCameraConfig(path=str(folder), width=64, height=48)
    assert ReplayCamera(sized).shape == (48, 64, 3)


def test_a_missing_source_fails_when_its_size_is_asked(tmp_path: Path) -> None:
    camera = ReplayCamera(ReplayCameraConfig(path=str(tmp_path / "missing.mp4")), name="top")
    with pytest.raises(CameraError, match=r"'top'.*missing\.mp4.*no such file"):
        _ = camera.shape
