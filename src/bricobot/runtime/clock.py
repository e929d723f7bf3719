"""Monotonic clocks for the control loop: the real one with a precise sleep, and a fake for tests.

The loop never calls ``time`` directly; it is handed a :class:`Clock`, so pacing, overrun counting
and timeouts can be tested on fake time that advances only when the code sleeps. The system clock
sleeps with the OS until shortly before a deadline and then spins, because ``time.sleep`` alone
overshoots by up to a scheduler tick, which is a large fraction of a 16 ms period at 60 Hz.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock in seconds that can sleep until an absolute deadline."""

    def now(self) -> float:
        """Monotonic time (s)."""
        ...

    def sleep_until(self, deadline_s: float) -> None:
        """Return at (or just after) ``deadline_s``; return at once if it has passed."""
        ...


class SystemClock:
    """``time.monotonic`` with a precise sleep: OS sleep until ``spin_s`` before the deadline, then spin."""

    def __init__(self, spin_s: float = 0.001) -> None:
        if spin_s < 0:
            raise ValueError(f"spin_s must be >= 0, got {spin_s}")
        self.spin_s = spin_s

    def now(self) -> float:
        return time.monotonic()

    def sleep_until(self, deadline_s: float) -> None:
        remaining_s = deadline_s - time.monotonic()
        if remaining_s > self.spin_s:
            time.sleep(remaining_s - self.spin_s)
        while time.monotonic() < deadline_s:
            pass


class FakeClock:
    """Fake time for tests: starts at ``start_s`` and moves only on :meth:`sleep_until` or :meth:`advance`."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.time_s = start_s
        #: Every deadline passed to ``sleep_until``, in order (lets tests check absolute pacing).
        self.deadlines_s: list[float] = []

    def now(self) -> float:
        return self.time_s

    def sleep_until(self, deadline_s: float) -> None:
        self.deadlines_s.append(deadline_s)
        self.time_s = max(self.time_s, deadline_s)

    def advance(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass (e.g. to simulate a slow stage)."""
        if dt_s < 0:
            raise ValueError(f"time only moves forward; got dt_s={dt_s}")
        self.time_s += dt_s


class SimClock:
    """The simulation's clock: time moves only when the loop waits for its next deadline, so a loop
    driving a simulated robot runs as fast as the simulator while every timestamp stays exact."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.time_s = start_s

    def now(self) -> float:
        return self.time_s

    def sleep_until(self, deadline_s: float) -> None:
        self.time_s = max(self.time_s, deadline_s)
