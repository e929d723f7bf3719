"""A camera that plays a video file or a folder of images at its frame rate.

Useful where no camera is plugged in (CI, the virtual arm) and to replay what a real camera saw.
Frames come from a background thread paced at ``fps`` exactly like a live camera, stamped with the
monotonic time they were delivered, and the same staleness rules apply: when the source ends and
``loop`` is off, readers get a :class:`CameraError` once the last frame is too old. Video is
decoded with PyAV (any codec FFmpeg reads, AV1 included); images with OpenCV.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bricobot.cameras.base import CameraError
from bricobot.cameras.threaded import Clock, ThreadedCamera

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class ReplayCameraConfig:
    """A video file or an image folder played back as a camera."""

    type: str = "replay"
    path: str = ""  # video file (mp4, mkv, …) or folder of images (sorted by name)
    fps: float | None = None  # None: the video's own rate (30 for an image folder)
    width: int | None = None  # None: the source's size; otherwise frames are resized
    height: int | None = None
    loop: bool = True  # start again at the end; off: the camera stops (readers then get errors)
    max_age_periods: float = 3.0

    def __post_init__(self) -> None:
        if self.type != "replay":
            raise ValueError(f"type must be 'replay', got {self.type!r}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height must be given together (or both left out)")
        if self.width is not None and self.height is not None and min(self.width, self.height) <= 0:
            raise ValueError(f"width/height must be positive, got {self.width}×{self.height}")
        if not self.max_age_periods > 0:
            raise ValueError(f"max_age_periods must be > 0, got {self.max_age_periods}")


class ReplayCamera(ThreadedCamera):
    """Plays ``config.path`` in real time; see the module docstring."""

    def __init__(
        self, config: ReplayCameraConfig, name: str = "camera", clock: Clock = time.monotonic
    ) -> None:
        super().__init__(name=name, max_age_periods=config.max_age_periods, clock=clock)
        self.config = config
        self.path = Path(config.path)
        self._shape = (config.height or 0, config.width or 0, 3)
        self._images: list[Path] = []
        self._container: Any = None
        self._frames: Iterator[np.ndarray] | None = None
        self._image_index = 0
        self._next_due_s = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3): the configured size, else the source's, read from it before ``connect``
        so that a dataset opened before the camera starts gets the frames' real size."""
        if 0 in self._shape[:2]:
            self._shape = self._probe_shape()
        return self._shape

    def _probe_shape(self) -> tuple[int, int, int]:
        """Size of the source's frames, from its first image or its video stream's header."""
        if not self.config.path:
            raise CameraError(f"{self._describe()}: set path to a video file or an image folder")
        if self.path.is_dir():
            h, w = self._load_image(self._list_images()[0]).shape[:2]
        elif self.path.is_file():
            import av

            try:
                with av.open(str(self.path)) as container:
                    stream = container.streams.video[0]
                    h, w = stream.codec_context.height, stream.codec_context.width
                    if not h or not w:  # no size in the header: decode a frame
                        h, w = next(container.decode(video=0)).to_ndarray(format="rgb24").shape[:2]
            except (IndexError, StopIteration) as exc:
                raise CameraError(f"{self._describe()}: file has no video frames") from exc
            except Exception as exc:  # PyAV raises several error types for unreadable files
                raise CameraError(f"{self._describe()}: cannot open video: {exc}") from exc
        else:
            raise CameraError(f"{self._describe()}: no such file or folder")
        return (int(h), int(w), 3)

    def _list_images(self) -> list[Path]:
        images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise CameraError(
                f"{self._describe()}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})"
            )
        return images

    def _describe(self) -> str:
        return f"replay camera {self.name!r} ({self.path})"

    def _stall_hint(self) -> str:
        return "is the file readable, or did a non-looping replay end?"

    def _open(self) -> float:
        if not self.config.path:
            raise CameraError(f"{self._describe()}: set path to a video file or an image folder")
        if self.path.is_dir():
            self._images = self._list_images()
            self._image_index = 0
            first = self._load_image(self._images[0])
            fps = self.config.fps or 30.0
        elif self.path.is_file():
            fps = self._open_video()
            first = next(self._iter_video())
            self._restart_video()
        else:
            raise CameraError(f"{self._describe()}: no such file or folder")
        self._shape = self._resize(first).shape  # type: ignore[assignment]
        self._next_due_s = time.monotonic()
        return 1.0 / fps

    def _open_video(self) -> float:
        import av

        try:
            self._container = av.open(str(self.path))
        except Exception as exc:  # PyAV raises several error types for unreadable files
            raise CameraError(f"{self._describe()}: cannot open video: {exc}") from exc
        if not self._container.streams.video:
            raise CameraError(f"{self._describe()}: file has no video stream")
        stream = self._container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
        self._frames = self._iter_video()
        return self.config.fps or rate

    def _iter_video(self) -> Iterator[np.ndarray]:
        for frame in self._container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")

    def _restart_video(self) -> None:
        self._container.seek(0)
        self._frames = self._iter_video()

    def _load_image(self, path: Path) -> np.ndarray:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise CameraError(f"{self._describe()}: cannot read image {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        if self.config.width is None or self.config.height is None:
            return image
        if image.shape[:2] == (self.config.height, self.config.width):
            return image
        return cv2.resize(
            image, (self.config.width, self.config.height), interpolation=cv2.INTER_AREA
        )

    def _next_source_frame(self) -> np.ndarray | None:
        if self._images:
            if self._image_index >= len(self._images):
                if not self.config.loop:
                    return None
                self._image_index = 0
            image = self._load_image(self._images[self._image_index])
            self._image_index += 1
            return image
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            if not self.config.loop:
                return None
            self._restart_video()
            return next(self._frames, None)

    def _grab(self) -> np.ndarray | None:
        delay_s = self._next_due_s - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)
        self._next_due_s = max(self._next_due_s + self._period_s, time.monotonic() - self._period_s)
        image = self._next_source_frame()
        if image is None:
            self._last_error = "end of the recording (loop is off)"
            return None
        image = self._resize(image)
        if image.shape != self._shape:
            raise CameraError(f"frame of shape {image.shape}, expected {self._shape}")
        return np.ascontiguousarray(image)

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None
