"""OpenCVCamera: negotiated format checks, capture times, staleness, on files and a fake driver."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from bricobot.cameras.base import CameraError
from bricobot.cameras.opencv import OpenCVCamera, OpenCVCameraConfig
from bricobot.errors import DeviceNotConnectedError
from bricobot.runtime.clock import FakeClock
from tests.fakes.fake_capture import FakeVideoCapture


def write_video(
    path: Path, n_frames: int = 12, size: tuple[int, int] = (64, 48), fps: float = 30
) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for i in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), i * 20, np.uint8))
    writer.release()
    return path


def write_sequence(folder: Path, n_frames: int = 4) -> str:
    folder.mkdir()
    for i in range(n_frames):
        bgr = np.zeros((48, 64, 3), np.uint8)
        bgr[..., 0] = 255  # pure blue in OpenCV's BGR order
        bgr[..., 1] = i * 10
        cv2.imwrite(str(folder / f"frame_{i:04d}.png"), bgr)
    return str(folder / "frame_%04d.png")


def test_video_file_stand_in_negotiates_and_stamps_increasing_capture_times(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cam.mp4")
    # Generous max age: this test is about timestamps, not staleness (CI machines get busy).
    config = OpenCVCameraConfig(
        index_or_path=str(path), width=64, height=48, fps=100, max_age_periods=100
    )
    with OpenCVCamera(config, name="front") as camera:
        assert camera.negotiated.width == 64 and camera.negotiated.height == 48
        assert camera.negotiated.fps == pytest.approx(30.0)
        assert camera.shape == (48, 64, 3)
        frames = [camera.read() for _ in range(15)]  # more than the file holds: it loops
        assert camera.measured_fps > 0
    times = [f.capture_time_s for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)


def test_image_sequence_frames_come_out_rgb(tmp_path: Path) -> None:
    pattern = write_sequence(tmp_path / "seq")
    config = OpenCVCameraConfig(index_or_path=pattern, fps=100, max_age_periods=100)
    with OpenCVCamera(config) as camera:
        image = camera.read().image
    assert image[0, 0, 2] == 255 and image[0, 0, 0] == 0  # blue stays blue after BGR → RGB


def test_size_mismatch_is_an_error_naming_both_sizes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cam.mp4")
    camera = OpenCVCamera(OpenCVCameraConfig(index_or_path=str(path), width=640, height=480))
    with pytest.raises(CameraError, match=r"640×480.*64×48"):
        camera.connect()
    assert not camera.is_connected


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    camera = OpenCVCamera(OpenCVCameraConfig(index_or_path=str(tmp_path / "nope.mp4")))
    with pytest.raises(CameraError, match=r"nope\.mp4"):
        camera.connect()


def test_device_gets_mjpg_before_size_and_fps_mismatch_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeVideoCapture(width=64, height=48, fps=100, negotiated_fps=25.0)
    config = OpenCVCameraConfig(index_or_path="3", width=64, height=48, fps=30)
    camera = OpenCVCamera(config, name="wrist", capture_factory=lambda src, api: fake)
    with caplog.at_level(logging.WARNING), camera:
        assert camera.negotiated.fourcc == "MJPG"
        camera.read(timeout_s=2.0)
    assert fake.set_calls.index(cv2.CAP_PROP_FOURCC) < fake.set_calls.index(
        cv2.CAP_PROP_FRAME_WIDTH
    )
    assert "30.0 fps" in caplog.text and "25.0 fps" in caplog.text
    assert fake.released


def test_device_refusing_the_size_is_an_error() -> None:
    fake = FakeVideoCapture(width=64, height=48, supported_sizes=[(64, 48)])
    config = OpenCVCameraConfig(index_or_path="/dev/video9", width=1280, height=720)
    camera = OpenCVCamera(config, capture_factory=lambda src, api: fake)
    with pytest.raises(CameraError, match=r"1280×720.*64×48"):
        camera.connect()


def test_stalled_camera_raises_instead_of_reusing_the_last_frame() -> None:
    fake = FakeVideoCapture(fps=100)
    clock = FakeClock(start_s=1000.0)
    config = OpenCVCameraConfig(index_or_path="0", max_age_periods=3)
    camera = OpenCVCamera(
        config, name="top", capture_factory=lambda src, api: fake, clock=clock.now
    )
    with camera:
        camera.read(timeout_s=30.0)
        fake.stall()
        assert fake.wait_stalled(), "the fake driver never noticed the stall"
        clock.advance(0.05)  # 5 periods of 10 ms since the newest frame
        with pytest.raises(CameraError, match=r"camera 'top'.*ms old"):
            camera.read_latest()
        # Frames that came after the one read are as old: never a stale frame, whichever it is.
        with pytest.raises(CameraError, match=r"camera 'top'.*(no new frame|ms old)"):
            camera.read()


def test_stale_frame_is_refused_by_age_on_an_injected_clock() -> None:
    fake = FakeVideoCapture(fps=100)
    clock = FakeClock(start_s=1000.0)
    config = OpenCVCameraConfig(index_or_path="0", max_age_periods=2)
    camera = OpenCVCamera(config, capture_factory=lambda src, api: fake, clock=clock.now)
    with camera:
        frame = camera.read_latest()
        assert frame.capture_time_s == 1000.0
        fake.stall()
        assert fake.wait_stalled(), "the fake driver never noticed the stall"
        clock.advance(0.015)  # 1.5 periods: still fresh
        assert camera.read_latest().capture_time_s == 1000.0
        clock.advance(0.485)  # the newest frame is now 50 periods old
        with pytest.raises(CameraError, match="frame periods"):
            camera.read_latest()


def test_reading_a_disconnected_camera_fails() -> None:
    fake = FakeVideoCapture()
    camera = OpenCVCamera(OpenCVCameraConfig(index_or_path="0"), capture_factory=lambda s, a: fake)
    with pytest.raises(DeviceNotConnectedError):
        camera.read()
    camera.connect()
    camera.disconnect()
    with pytest.raises(DeviceNotConnectedError):
        camera.read()


@pytest.mark.parametrize(
    "field, value",
    [("width", 0), ("fourcc", "MJPEG"), ("rotation_deg", 45), ("max_age_periods", 0)],
)
def test_config_rejects_bad_values(field: str, value: object) -> None:
    kwargs: dict[str, object] = {field: value}
    if field == "width":
        kwargs["height"] = 10
    with pytest.raises(ValueError, match=field):
        OpenCVCameraConfig(**kwargs)  # type: ignore[arg-type]
