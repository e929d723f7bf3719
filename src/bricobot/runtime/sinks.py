"""Frames leave the control thread through a queue: a worker thread feeds the sinks.

Dataset writing, display and logging can stall (disk, encoder, terminal); if they ran on the
control thread a stall would become a late servo command. :class:`SinkWorker` takes each frame
with a non-blocking ``put`` and hands it to every sink on its own thread. The queue is unbounded on
purpose: a frame is never dropped silently; the worst backlog is reported instead, and
:meth:`SinkWorker.flush` waits for the backlog between episodes, off the timed path.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class LoopFrame:
    """What one control step produced, as handed to sinks.

    ``observation`` holds ``"<joint>.pos"`` floats and ``"<camera>"`` uint8 (H, W, 3) RGB images;
    ``action`` is the action the robot actually applied.
    """

    index: int
    #: Nominal time since the start of the run: ``index / fps`` (s).
    timestamp_s: float
    #: Monotonic time the step started (s).
    step_start_s: float
    observation: dict[str, Any]
    action: dict[str, float]
    #: Monotonic capture time of each observation part (s), as reported by the robot.
    capture_times_s: dict[str, float] = field(default_factory=dict)


class Sink(Protocol):
    """Anything that consumes frames off the control thread (dataset writer, viewer, logger)."""

    def add_frame(self, frame: LoopFrame) -> None: ...


class SinkError(RuntimeError):
    """A sink failed on the worker thread; raised on the control thread at the next step."""


_STOP = object()
_BARRIER = "barrier"


class SinkWorker:
    """One worker thread that passes every submitted frame, in order, to each sink."""

    def __init__(self, sinks: Sequence[Sink], name: str = "bricobot-sinks") -> None:
        self.sinks = list(sinks)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self._failed_sink = ""
        #: Largest number of frames waiting at once (how far the sinks fell behind).
        self.max_backlog = 0
        self.frames_submitted = 0
        self.frames_done = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, frame: LoopFrame) -> None:
        """Queue ``frame`` for the sinks without blocking; raise if a sink has failed."""
        self.check()
        self._queue.put_nowait(frame)
        self.frames_submitted += 1
        self.max_backlog = max(self.max_backlog, self._queue.qsize())

    def check(self) -> None:
        """Raise :class:`SinkError` if a sink raised on the worker thread."""
        if self._error is not None:
            raise SinkError(
                f"{self._failed_sink} failed while consuming frames: {self._error!r}"
            ) from self._error

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every frame submitted so far has reached every sink, then re-raise failures."""
        done = threading.Event()
        self._queue.put((_BARRIER, done))
        if not done.wait(timeout_s):
            raise TimeoutError(
                f"sinks still have {self._queue.qsize()} frames queued after {timeout_s} s"
            )
        self.check()

    def close(self, timeout_s: float | None = 30.0) -> None:
        """Drain the queue and stop the worker thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, tuple) and item and item[0] == _BARRIER:
                item[1].set()
                continue
            if self._error is not None:
                continue  # keep draining so flush() returns; the error is re-raised there
            for sink in self.sinks:
                try:
                    sink.add_frame(item)
                except BaseException as exc:  # reported to the control thread
                    self._error = exc
                    self._failed_sink = type(sink).__name__
                    break
            self.frames_done += 1

    def __enter__(self) -> SinkWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
