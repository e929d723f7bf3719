"""A stand-in for ``cv2.VideoCapture``: scripted frames, negotiation and a switch to stop delivering."""

from __future__ import annotations

import threading

import cv2
import numpy as np


class FakeVideoCapture:
    """Delivers solid BGR frames at ``fps`` (value = frame number % 256) until :meth:`stall` is called.

    ``supported_sizes``: the sizes the "driver" accepts; any other request keeps the current size,
    like a V4L2 driver that snaps to what it can do. ``offers_mjpg``: whether FOURCC=MJPG sticks.
    """

    def __init__(
        self,
        width: int = 64,
        height: int = 48,
        fps: float = 100.0,
        supported_sizes: list[tuple[int, int]] | None = None,
        offers_mjpg: bool = True,
        negotiated_fps: float | None = None,
    ) -> None:
        self.props = {
            cv2.CAP_PROP_FRAME_WIDTH: float(width),
            cv2.CAP_PROP_FRAME_HEIGHT: float(height),
            cv2.CAP_PROP_FPS: float(negotiated_fps or fps),
            cv2.CAP_PROP_FOURCC: float(cv2.VideoWriter.fourcc(*"YUYV")),
        }
        self.period_s = 1.0 / fps
        self.supported_sizes = supported_sizes
        self.offers_mjpg = offers_mjpg
        self.set_calls: list[int] = []
        self.frames_delivered = 0
        self.released = False
        self._delivering = threading.Event()
        self._delivering.set()
        self._stalled_read = threading.Event()
        self._stop = threading.Event()

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def set(self, prop: int, value: float) -> bool:
        self.set_calls.append(prop)
        mjpg = cv2.VideoWriter.fourcc(*"MJPG")
        if prop == cv2.CAP_PROP_FOURCC and value == mjpg and not self.offers_mjpg:
            return False
        if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT) and self.supported_sizes:
            dims = [
                s[0] if prop == cv2.CAP_PROP_FRAME_WIDTH else s[1] for s in self.supported_sizes
            ]
            if int(value) not in dims:
                return False
        if prop == cv2.CAP_PROP_FPS:
            return False  # this driver keeps its own rate
        self.props[prop] = float(value)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._stop.wait(self.period_s) or not self._delivering.is_set():
            # A stalled camera: the driver blocks, then times out with no frame.
            self._stop.wait(0.05)
            self._stalled_read.set()
            return False, None
        width = int(self.props[cv2.CAP_PROP_FRAME_WIDTH])
        height = int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        frame = np.full((height, width, 3), self.frames_delivered % 256, np.uint8)
        frame[..., 0] = 255  # blue in BGR: lets tests check the RGB conversion
        self.frames_delivered += 1
        return True, frame

    def stall(self) -> None:
        """Stop delivering frames (a cable pulled out)."""
        self._delivering.clear()

    def wait_stalled(self, timeout_s: float = 30.0) -> bool:
        """Wait until a read after :meth:`stall` came back empty: the frame that was in flight
        when the cable came out (if any) has reached the reader. False if none did in time."""
        return self._stalled_read.wait(timeout_s)

    def release(self) -> None:
        self.released = True
        self._stop.set()
