"""Shared machinery for cameras whose frames arrive on a background thread.

A capture thread grabs frames as fast as the source delivers them and keeps only the newest one,
stamped with the monotonic time it was captured. Readers never get a frame older than
``max_age_periods`` frame periods: past that, :meth:`ThreadedCamera.read` and
:meth:`ThreadedCamera.read_latest` raise :class:`CameraError` naming the camera and the last error
the source reported, so a camera that stops delivering ends an episode instead of silently feeding
the same picture again. The measured frame rate is reported by :attr:`ThreadedCamera.measured_fps`.
"""

from __future__ import annotations

import abc
import collections
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from bricobot.cameras.base import Camera, CameraError, Frame
from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError

Clock = Callable[[], float]
logger = logging.getLogger(__name__)

#: How long a read waits for the first frame after connect (device start-up, GL context).
STARTUP_TIMEOUT_S = 2.0

#: Number of recent capture times the measured frame rate is computed over.
FPS_WINDOW = 30


class ThreadedCamera(Camera):
    """A camera fed by a background thread; subclasses say how to open, grab and close the source.

    Subclasses implement :meth:`_open` (open the source, return the frame period in seconds),
    :meth:`_grab` (block until the next frame; return an RGB uint8 (H, W, 3) image, optionally
    with its capture time, or ``None`` when no frame came) and :meth:`_close`.
    """

    def __init__(self, name: str, max_age_periods: float, clock: Clock = time.monotonic) -> None:
        if not max_age_periods > 0:
            raise ValueError(f"max_age_periods must be > 0, got {max_age_periods}")
        self.name = name
        self.max_age_periods = max_age_periods
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._last_returned_index = -1
        self._next_index = 0
        self._last_error = ""
        self._capture_times: collections.deque[float] = collections.deque(maxlen=FPS_WINDOW)
        self._period_s = 1.0 / 30.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connected = False

    # --- what subclasses provide -------------------------------------------------------------

    @abc.abstractmethod
    def _open(self) -> float:
        """Open the source (raise :class:`CameraError` if it cannot); return the frame period (s)."""

    @abc.abstractmethod
    def _grab(self) -> np.ndarray | tuple[np.ndarray, float] | None:
        """Block until the next frame; return it (RGB uint8 H×W×3), with its capture time or not."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the source; called from :meth:`disconnect` after the thread has stopped."""

    def _on_thread_exit(self) -> None:
        """Called on the capture thread as it ends (free thread-bound resources such as GL)."""

    def _describe(self) -> str:
        """How the camera is named in errors (subclasses add the device or file)."""
        return f"camera {self.name!r}"

    def _stall_hint(self) -> str:
        """What to check when frames stop coming."""
        return "check the cable and that no other program uses the camera"

    # --- Camera interface ---------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def period_s(self) -> float:
        """Nominal time between frames (s)."""
        return self._period_s

    @property
    def max_age_s(self) -> float:
        """Frames older than this (s) are refused."""
        return self.max_age_periods * self._period_s

    @property
    def measured_fps(self) -> float:
        """Frames per second actually delivered over the last few frames (0.0 until two arrived)."""
        with self._cond:
            times = list(self._capture_times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def last_error(self) -> str:
        """The last problem the capture thread met ("" if none)."""
        return self._last_error

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self._describe()} is already connected")
        self._period_s = self._open()
        self._stop.clear()
        self._latest = None
        self._last_returned_index = -1
        self._capture_times.clear()
        self._last_error = ""
        self._connected = True
        self._thread = threading.Thread(
            target=self._capture_loop, name=f"camera-{self.name}", daemon=True
        )
        self._thread.start()
        # Start-up (device warm-up, a GL context) happens here, not in the first reads of a loop.
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None, timeout=STARTUP_TIMEOUT_S)
            started = self._latest is not None
        if not started:
            error = CameraError(
                f"{self._describe()}: no frame within {STARTUP_TIMEOUT_S:.0f} s of connecting"
                f"{self._error_suffix()}; {self._stall_hint()}"
            )
            self.disconnect()
            raise error

    def disconnect(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError(f"{self._describe()} is not connected")
        self._stop.set()
        with self._cond:
            self._connected = False
            self._cond.notify_all()
        stuck = False
        if self._thread is not None:
            self._thread.join(timeout=max(2.0, 3 * self._period_s))
            stuck = self._thread.is_alive()
            self._thread = None
        if stuck:  # releasing a device while a read blocks in it can crash the driver
            logger.warning(
                "%s: capture thread is stuck in a read; not releasing the device", self._describe()
            )
            return
        self._close()

    def read(self, timeout_s: float | None = None) -> Frame:
        """The newest frame not returned before, waiting up to ``timeout_s`` (default: max age)."""
        self._require_connected()
        wait_s = self.max_age_s if timeout_s is None else timeout_s
        if self._latest is None:  # the first frame may take a while (device start, GL context)
            wait_s = max(wait_s, STARTUP_TIMEOUT_S)
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._latest is None or self._latest.index <= self._last_returned_index:
                remaining = deadline - time.monotonic()
                if not self._connected:
                    raise DeviceNotConnectedError(f"{self._describe()} was disconnected")
                if remaining <= 0:
                    raise CameraError(
                        f"{self._describe()}: no new frame for {wait_s * 1000:.0f} ms "
                        f"({wait_s / self._period_s:.1f} frame periods at {1 / self._period_s:.1f} fps)"
                        f"{self._error_suffix()}; {self._stall_hint()}"
                    )
                self._cond.wait(remaining)
            frame = self._latest
            self._check_age(frame)
            self._last_returned_index = frame.index
        return frame

    def read_latest(self) -> Frame:
        """The newest frame (possibly one returned before), refusing it if it is too old.

        Waits for the first frame after connect (up to the max age), never for later ones, so a
        control loop reading at the camera's rate does not lock its phase to the camera.
        """
        self._require_connected()
        with self._cond:
            if self._latest is None:
                deadline = time.monotonic() + max(self.max_age_s, STARTUP_TIMEOUT_S)
                while self._latest is None and self._connected:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CameraError(
                            f"{self._describe()}: no frame since connect{self._error_suffix()}"
                        )
                    self._cond.wait(remaining)
            if self._latest is None:
                raise DeviceNotConnectedError(f"{self._describe()} was disconnected")
            frame = self._latest
            self._check_age(frame)
            self._last_returned_index = frame.index
        return frame

    # --- internals ----------------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError(f"{self._describe()} is not connected; call connect()")

    def _error_suffix(self) -> str:
        return f"; last error: {self._last_error}" if self._last_error else ""

    def _check_age(self, frame: Frame) -> None:
        age_s = self._clock() - frame.capture_time_s
        if age_s > self.max_age_s:
            raise CameraError(
                f"{self._describe()}: newest frame is {age_s * 1000:.0f} ms old, more than "
                f"{self.max_age_periods:g} frame periods ({self.max_age_s * 1000:.0f} ms); the camera "
                f"stopped delivering{self._error_suffix()}"
            )

    def _capture_loop(self) -> None:
        try:
            self._capture_frames()
        finally:
            self._on_thread_exit()

    def _capture_frames(self) -> None:
        while not self._stop.is_set():
            try:
                grabbed = self._grab()
            except Exception as exc:  # the source failed; report it to readers, keep trying
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(min(self._period_s, 0.05))
                continue
            if grabbed is None:
                if not self._last_error:
                    self._last_error = "the source returned no frame"
                self._stop.wait(min(self._period_s, 0.05))
                continue
            if isinstance(grabbed, tuple):
                image, capture_time_s = grabbed
            else:
                image, capture_time_s = grabbed, self._clock()
            self._last_error = ""
            with self._cond:
                frame = Frame(image=image, capture_time_s=capture_time_s, index=self._next_index)
                self._next_index += 1
                self._latest = frame
                self._capture_times.append(capture_time_s)
                self._cond.notify_all()
