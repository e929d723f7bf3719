"""The Camera interface: frames that carry their capture time.

Every frame is uint8 H×W×3 RGB with the monotonic time (s) it was captured, so the recorder can store
truthful timing and refuse stale frames instead of silently reusing them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One camera frame: ``image`` uint8 (H, W, 3) RGB, captured at ``capture_time_s`` (monotonic)."""

    image: np.ndarray
    capture_time_s: float
    index: int = 0


class CameraError(RuntimeError):
    """A camera failed to open, stopped delivering, or delivered a frame too old to use."""


class Camera(abc.ABC):
    """Base class of every camera. Use as a context manager to always release the device."""

    name: str = "camera"

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3) of the frames it delivers."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool: ...

    @abc.abstractmethod
    def connect(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> Frame:
        """The newest frame not returned before; raises :class:`CameraError` if none arrives in time."""

    def read_latest(self) -> Frame:
        """The newest frame, possibly one returned before (a control loop reading at the camera's
        rate does not lock its phase to it). Threaded cameras answer at once; this default waits
        for the next frame."""
        return self.read()

    @abc.abstractmethod
    def disconnect(self) -> None: ...

    def __enter__(self) -> Camera:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_connected:
            self.disconnect()
