"""USB cameras through OpenCV, with negotiated format checks and a background capture thread.

On connect the camera asks for the configured pixel format (MJPG by default: most USB cameras reach
their full frame rate at 640×480 and above only in MJPG), size and fps, then reads back what the
driver actually negotiated. A size that differs from the config is an error (the dataset would
hold frames of the wrong shape); an fps that differs is a warning (the loop still runs, the
recorded times tell the truth); a format other than the one asked is logged. Frames are stamped
with their monotonic capture time; one older than ``max_age_periods`` periods is refused.

``index_or_path`` may also name a video file or a numbered image sequence (``frames/%04d.png``):
OpenCV opens those the same way, which gives a stand-in camera where no ``/dev/video*`` exists.
A file source is paced at its fps and loops at its end unless ``loop=False``.
"""

from __future__ import annotations

import logging
import os
import platform
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from bricobot.cameras.base import CameraError
from bricobot.cameras.threaded import Clock, ThreadedCamera

logger = logging.getLogger(__name__)

ROTATIONS = {
    0: None,
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}
BACKENDS = {"auto": None, "any": cv2.CAP_ANY, "v4l2": cv2.CAP_V4L2, "ffmpeg": cv2.CAP_FFMPEG}


@dataclass
class OpenCVCameraConfig:
    """A camera OpenCV can open: an index, a device path, a by-id path, or a file stand-in."""

    type: str = "opencv"
    # "0", "/dev/video0", "/dev/v4l/by-id/usb-…-video-index0" (stable across replugging),
    # or a video file / image sequence pattern ("frames/%04d.png").
    index_or_path: str = "0"
    width: int | None = None  # None: keep what the camera negotiates
    height: int | None = None
    fps: float | None = None  # None: keep the camera's (a file's own fps for a file source)
    # Preferred pixel format; MJPG lets USB 2 cameras deliver full fps. None: the driver's default.
    fourcc: str | None = "MJPG"
    rotation_deg: int = 0  # 0, 90, 180 or 270, applied after capture
    max_age_periods: float = 3.0  # a frame older than this many periods is refused, never reused
    backend: str = "auto"  # auto (V4L2 for devices on Linux), any, v4l2, ffmpeg
    loop: bool = True  # file sources only: start again at the end instead of stopping

    def __post_init__(self) -> None:
        if self.type != "opencv":
            raise ValueError(f"type must be 'opencv', got {self.type!r}")
        if not str(self.index_or_path):
            raise ValueError("index_or_path must name a camera index, device or file")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height must be given together (or both left out)")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.fourcc is not None and len(self.fourcc) != 4:
            raise ValueError(f"fourcc must be 4 characters (e.g. 'MJPG'), got {self.fourcc!r}")
        if self.rotation_deg not in ROTATIONS:
            raise ValueError(
                f"rotation_deg must be one of {sorted(ROTATIONS)}, got {self.rotation_deg}"
            )
        if not self.max_age_periods > 0:
            raise ValueError(f"max_age_periods must be > 0, got {self.max_age_periods}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {self.backend!r}")


@dataclass(frozen=True)
class NegotiatedFormat:
    """What the driver actually delivers: size, fps (0.0 when unknown) and pixel format."""

    width: int
    height: int
    fps: float
    fourcc: str


class VideoCaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` the camera uses (a fake in tests implements the same)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[int | str, int], VideoCaptureLike]


def parse_source(index_or_path: str) -> int | str:
    """``"2"`` → camera index 2; anything else is a path (device, by-id link, file, pattern)."""
    text = str(index_or_path).strip()
    return int(text) if text.isdigit() else text


def is_device(source: int | str) -> bool:
    """True for a camera index or a character device (``/dev/video0`` or a by-id link to one)."""
    if isinstance(source, int):
        return True
    if source.startswith("/dev/"):
        return True
    try:
        return stat.S_ISCHR(os.stat(source).st_mode)
    except OSError:
        return False


def fourcc_to_str(code: float) -> str:
    """OpenCV's FOURCC property (a float holding 4 packed bytes) as text, "" when unknown."""
    value = int(code)
    if value <= 0:
        return ""
    text = value.to_bytes(4, "little").decode("ascii", errors="replace")
    return text.rstrip("\x00")


class OpenCVCamera(ThreadedCamera):
    """A camera read by OpenCV on a background thread; see the module docstring."""

    def __init__(
        self,
        config: OpenCVCameraConfig,
        name: str = "camera",
        capture_factory: CaptureFactory | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(name=name, max_age_periods=config.max_age_periods, clock=clock)
        self.config = config
        self.source = parse_source(config.index_or_path)
        self.from_file = not is_device(self.source)
        self._factory: CaptureFactory = capture_factory or _open_video_capture
        self._capture: VideoCaptureLike | None = None
        self._negotiated: NegotiatedFormat | None = None
        self._shape = (config.height or 0, config.width or 0, 3)
        self._next_due_s = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    @property
    def negotiated(self) -> NegotiatedFormat:
        """The format read back from the driver at connect."""
        if self._negotiated is None:
            raise CameraError(f"{self._describe()}: not connected yet, nothing negotiated")
        return self._negotiated

    def _describe(self) -> str:
        return f"camera {self.name!r} ({self.source})"

    def _open(self) -> float:
        cfg = self.config
        if self.from_file and not _file_source_exists(str(self.source)):
            raise CameraError(f"{self._describe()}: no such file or image sequence")
        backend = BACKENDS[cfg.backend]
        if backend is None:
            on_linux = platform.system() == "Linux"
            backend = cv2.CAP_V4L2 if (on_linux and not self.from_file) else cv2.CAP_ANY
        capture = self._factory(self.source, backend)
        if not capture.isOpened():
            capture.release()
            hint = (
                "run `bricobot find-cameras` to list cameras; check that no other program holds it "
                "and that you are in the 'video' group"
                if not self.from_file
                else "OpenCV could not decode it"
            )
            raise CameraError(f"{self._describe()}: could not open; {hint}")
        if not self.from_file:
            # The order matters on V4L2: format first, then size, then fps.
            if cfg.fourcc:
                capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*cfg.fourcc))
            if cfg.width is not None and cfg.height is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
            if cfg.fps is not None:
                capture.set(cv2.CAP_PROP_FPS, cfg.fps)
        negotiated = NegotiatedFormat(
            width=round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            fourcc=fourcc_to_str(capture.get(cv2.CAP_PROP_FOURCC)),
        )
        try:
            self._check_negotiated(negotiated)
        except CameraError:
            capture.release()
            raise
        self._capture = capture
        self._negotiated = negotiated
        height, width = negotiated.height, negotiated.width
        if self.config.rotation_deg in (90, 270):
            height, width = width, height
        self._shape = (height, width, 3)
        fps = cfg.fps or negotiated.fps or 30.0
        self._next_due_s = time.monotonic()
        return 1.0 / fps

    def _check_negotiated(self, got: NegotiatedFormat) -> None:
        cfg = self.config
        if cfg.width is not None and (got.width, got.height) != (cfg.width, cfg.height):
            raise CameraError(
                f"{self._describe()}: configured {cfg.width}×{cfg.height} but the camera delivers "
                f"{got.width}×{got.height}; set width/height to a size it supports "
                "(`bricobot find-cameras` prints what it negotiates)"
            )
        if (
            cfg.fps is not None
            and got.fps > 0
            and abs(got.fps - cfg.fps) > max(0.5, 0.02 * cfg.fps)
        ):
            logger.warning(
                "%s: configured %.1f fps but the camera negotiated %.1f fps; recorded capture times "
                "will show the real rate",
                self._describe(),
                cfg.fps,
                got.fps,
            )
        if cfg.fourcc and not self.from_file and got.fourcc and got.fourcc != cfg.fourcc:
            logger.info(
                "%s: does not offer %s at this size; using %s",
                self._describe(),
                cfg.fourcc,
                got.fourcc,
            )

    def _grab(self) -> np.ndarray | None:
        capture = self._capture
        if capture is None:
            return None
        if self.from_file:
            # A file decodes faster than real time: hold each frame until its slot, like a camera.
            delay_s = self._next_due_s - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)
            self._next_due_s = max(
                self._next_due_s + self._period_s, time.monotonic() - self._period_s
            )
        ok, bgr = capture.read()
        if (not ok or bgr is None) and self.from_file and self.config.loop:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = capture.read()
        if not ok or bgr is None:
            self._last_error = (
                "end of file" if self.from_file else "VideoCapture.read() returned no frame"
            )
            return None
        rgb = (
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if bgr.ndim == 3
            else cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        )
        rotation = ROTATIONS[self.config.rotation_deg]
        if rotation is not None:
            rgb = cv2.rotate(rgb, rotation)
        if rgb.shape != self._shape:
            self._last_error = f"frame of shape {rgb.shape}, expected {self._shape}"
            return None
        return np.ascontiguousarray(rgb)

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _open_video_capture(source: int | str, backend: int) -> VideoCaptureLike:
    return cv2.VideoCapture(source, backend)


def _file_source_exists(path: str) -> bool:
    if "%" in path:
        try:
            return os.path.exists(path % 0) or os.path.exists(path % 1)
        except (TypeError, ValueError):
            return False
    return os.path.exists(path)
