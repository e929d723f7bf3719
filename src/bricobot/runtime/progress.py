"""Live feedback for the person at the arm: which episode, how long it has left, the reset period.

:class:`StatusLine` keeps one line at the bottom of a terminal (stderr) and rewrites it in place a
few times per second from its own thread, so the control loop never waits on the terminal. Log
lines and display rows are printed above it (the line is cleared first, then redrawn). Without a
terminal (a pipe, a log file) it prints a plain line every ``plain_interval_s`` instead.

:class:`RecordProgress` is what the recorder reports to: the phase (recording / reset), the
episode number and the phase length. :class:`LiveRecordProgress` shows it on a status line, as
``episode 3/50  recording  12.3 s / 30 s  (17.7 s left)``; library callers (the demo pipeline, tests
on fake clocks) pass nothing and stay quiet.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from bricobot.runtime.clock import Clock, SystemClock

#: Clear the terminal line the cursor is on and return to its start.
CLEAR_LINE = "\r\x1b[K"


class RecordProgress(Protocol):
    """Receives the recorder's phases; called at phase boundaries only, never per step."""

    def phase(self, kind: str, episode: int, total: int, duration_s: float) -> None:
        """``kind`` (``"recording"`` or ``"reset"``) starts now for ``episode`` of ``total``; it
        lasts ``duration_s`` unless a key or a signal ends it. During a reset ``episode`` is the
        one that follows it."""
        ...

    def idle(self) -> None:
        """No phase is running (saving an episode, or the recording is over)."""
        ...


@dataclass
class Phase:
    """A phase as shown: what, which episode of how many, how long, and when it started (s)."""

    kind: str
    episode: int
    total: int
    duration_s: float
    start_s: float


def format_phase(phase: Phase, now_s: float, keys_hint: str = "") -> str:
    """``episode 3/50  recording  12.3 s / 30 s  (17.7 s left)``; the reset period names the episode
    that follows it and how to start that one now (``keys_hint``)."""
    elapsed_s = min(max(0.0, now_s - phase.start_s), phase.duration_s)
    left_s = phase.duration_s - elapsed_s
    clock = f"{elapsed_s:5.1f} s / {phase.duration_s:g} s  ({left_s:.1f} s left)"
    if phase.kind == "reset":
        text = f"reset the scene  {clock}  next: episode {phase.episode}/{phase.total}"
        return f"{text}  ({keys_hint} starts it now)" if keys_hint else text
    return f"episode {phase.episode}/{phase.total}  {phase.kind}  {clock}"


class StatusLine:
    """One line on ``stream`` (default stderr) redrawn from ``render()`` by a background thread.

    ``interval_s`` paces a terminal (a few redraws per second are enough for a person and cost the
    control loop nothing: it never writes). While running, records of the root logger's stream
    handlers on the same stream clear the line before they print, so logs stay readable.
    """

    def __init__(
        self,
        render: Callable[[], str],
        stream: TextIO | None = None,
        interval_s: float = 0.25,
        plain_interval_s: float = 10.0,
    ) -> None:
        self.render = render
        self.stream = stream or sys.stderr
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s if self.is_terminal else plain_interval_s
        self._lock = threading.RLock()
        self._drawn = False
        self._hold_until_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._filter = _ClearBeforeLog(self)
        self._handlers: list[logging.Handler] = []

    def start(self) -> StatusLine:
        if self._thread is None:
            self._attach_to_log_handlers()
            self._thread = threading.Thread(target=self._run, name="bricobot-status", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop redrawing and clear the line (the next output starts on a clean line)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        for handler in self._handlers:
            handler.removeFilter(self._filter)
        self._handlers.clear()
        self.clear()

    def __enter__(self) -> StatusLine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def refresh(self) -> None:
        """Draw the line now (in place on a terminal, as a new line otherwise)."""
        text = self.render()
        with self._lock:
            if not text or time.monotonic() < self._hold_until_s:
                return
            if self.is_terminal:
                self.stream.write(CLEAR_LINE + _fit(text))
                self._drawn = True
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def clear(self) -> None:
        """Erase the line so other output can be printed where it was."""
        with self._lock:
            if self._drawn:
                self.stream.write(CLEAR_LINE)
                self.stream.flush()
                self._drawn = False

    def print_above(self, text: str, stream: TextIO | None = None) -> None:
        """Print ``text`` as a line of its own (on ``stream``, default this one), then redraw."""
        with self._lock:
            self.clear()
            out = stream or self.stream
            out.write(text + "\n")
            out.flush()
            if self.is_terminal:
                self.refresh()

    def _before_log(self) -> None:
        # A log record is about to be printed: clear, and leave the line alone for a moment so
        # the record's own write comes first.
        with self._lock:
            self.clear()
            self._hold_until_s = time.monotonic() + 0.05

    def _attach_to_log_handlers(self) -> None:
        for handler in logging.getLogger().handlers:
            if getattr(handler, "stream", None) is self.stream:
                handler.addFilter(self._filter)
                self._handlers.append(handler)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh()
            except (OSError, ValueError):  # the terminal went away: stop drawing, keep the loop
                return


class _ClearBeforeLog(logging.Filter):
    """A handler filter that clears the status line before the handler prints a record."""

    def __init__(self, status: StatusLine) -> None:
        super().__init__()
        self.status = status

    def filter(self, record: logging.LogRecord) -> bool:
        self.status._before_log()
        return True


def _fit(text: str) -> str:
    """Cut ``text`` to the terminal width: a wrapped line cannot be rewritten in place."""
    width = shutil.get_terminal_size((100, 24)).columns
    return text if len(text) < width else text[: max(0, width - 2)] + "…"


class LiveRecordProgress:
    """The recorder's phases on a :class:`StatusLine`: episode n/N, elapsed and remaining time.

    ``clock`` is the recorder's clock (elapsed time is measured on it). ``keys_hint`` names the
    key that ends a reset period early (shown only when episode keys are live).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        stream: TextIO | None = None,
        keys_hint: str = "",
        interval_s: float = 0.25,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.keys_hint = keys_hint
        self._phase: Phase | None = None
        self.status = StatusLine(self.render, stream=stream, interval_s=interval_s)

    def phase(self, kind: str, episode: int, total: int, duration_s: float) -> None:
        self._phase = Phase(kind, episode, total, duration_s, self.clock.now())
        if self.status.is_terminal:  # elsewhere the thread prints every few seconds
            self.status.refresh()

    def idle(self) -> None:
        self._phase = None
        self.status.clear()

    def render(self) -> str:
        phase = self._phase
        return format_phase(phase, self.clock.now(), self.keys_hint) if phase else ""

    def print_above(self, text: str, stream: TextIO | None = None) -> None:
        self.status.print_above(text, stream)

    def __enter__(self) -> LiveRecordProgress:
        self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._phase = None
        self.status.stop()
