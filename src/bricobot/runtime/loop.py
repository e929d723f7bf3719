"""The one control loop: read, decide, act, hand off — paced by absolute deadlines.

Step ``k`` starts at ``t0 + k·period`` (never ``sleep(period)`` after the work, which drifts by the
work time every step). Each step reads the robot's observation, asks the action source (a
teleoperator or a policy) for an action, sends it (the robot returns what it really applied), and
submits a :class:`~bricobot.runtime.sinks.LoopFrame` to the sink worker without blocking. A step
that overruns its period is counted; the loop then skips to the next deadline on its grid rather
than bursting to catch up. The loop only knows the Robot interface and callables, never which
concrete device it holds, and takes an injectable clock so it can be tested on fake time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock, SystemClock
from bricobot.runtime.sinks import LoopFrame, SinkWorker
from bricobot.runtime.timing import STAGES, LoopTiming, RateWatch

log = logging.getLogger(__name__)

ActionSource = Callable[[dict[str, Any]], dict[str, float]]
"""Observation → action (``"<joint>.pos" -> value``): a teleoperator or a policy."""


class UnsafeActionError(ValueError):
    """An action had the wrong keys or a non-finite value; it was not sent."""


@dataclass
class LoopResult:
    """How a run of the loop ended and how well it kept time."""

    steps: int
    #: ``"duration"``, ``"max_steps"`` or ``"stopped"`` (a stop request: key, signal, caller).
    reason: str
    timing: LoopTiming
    #: The signal behind a stop (``"SIGINT"``, ``"SIGTERM"``), when the command knows it.
    signal: str | None = None


def check_action(action: dict[str, float], expected_keys: list[str]) -> None:
    """Refuse an action with missing/extra keys or a non-finite value (it is never padded)."""
    missing = [k for k in expected_keys if k not in action]
    extra = [k for k in action if k not in expected_keys]
    if missing or extra:
        raise UnsafeActionError(
            f"action keys do not match the robot: missing {missing}, unexpected {extra}"
        )
    bad = [k for k in expected_keys if not math.isfinite(float(action[k]))]
    if bad:
        raise UnsafeActionError(
            f"action has non-finite values for {bad}: {[action[k] for k in bad]}; not sent"
        )


class ControlLoop:
    """Runs ``robot`` with ``action_source`` at ``fps``, feeding frames to an optional sink worker.

    ``should_stop`` is polled once per step (keyboard events, a signal's stop flag); when it returns
    True the loop ends after the current step. ``switch_interval_s`` lowers Python's thread switch
    interval while the loop runs (restored afterwards) so a busy sink thread cannot hold the GIL
    past a deadline for the default 5 ms. ``realtime_priority`` (1-99, Linux) runs the control
    thread under ``SCHED_FIFO`` so video encoders and other processes cannot delay its wake-up;
    it is off by default because it needs a permission most accounts lack. ``rate_watch`` says
    while the loop runs that it cannot keep ``fps`` (default: a fresh :class:`RateWatch` per run
    that logs a warning; pass one to share its rate limit across runs, or ``False`` for silence).
    """

    def __init__(
        self,
        robot: Robot,
        action_source: ActionSource,
        fps: float,
        clock: Clock | None = None,
        sinks: SinkWorker | None = None,
        should_stop: Callable[[], bool] | None = None,
        switch_interval_s: float | None = 0.0005,
        realtime_priority: int | None = None,
        rate_watch: RateWatch | bool | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.robot = robot
        self.action_source = action_source
        self.fps = float(fps)
        self.period_s = 1.0 / self.fps
        self.clock: Clock = clock or SystemClock()
        self.sinks = sinks
        self.should_stop = should_stop or (lambda: False)
        self.switch_interval_s = switch_interval_s
        self.realtime_priority = realtime_priority
        self.rate_watch = rate_watch
        self._action_keys = list(robot.action_features)

    def run(self, duration_s: float | None = None, max_steps: int | None = None) -> LoopResult:
        """Run until ``duration_s`` of nominal time, ``max_steps`` steps, or a stop request."""
        if duration_s is None and max_steps is None:
            max_steps = sys.maxsize
        if duration_s is not None:
            steps_for_duration = max(1, round(duration_s * self.fps))
            max_steps = min(max_steps or sys.maxsize, steps_for_duration)
        assert max_steps is not None
        timing = LoopTiming(period_s=self.period_s)
        old_interval = sys.getswitchinterval()
        if self.switch_interval_s:
            sys.setswitchinterval(self.switch_interval_s)
        restore_priority = _raise_priority(self.realtime_priority)
        try:
            reason = self._run(max_steps, timing)
        finally:
            sys.setswitchinterval(old_interval)
            restore_priority()
        end = "duration" if duration_s is not None else "max_steps"
        return LoopResult(steps=timing.steps, reason=reason or end, timing=timing)

    def _watch(self, timing: LoopTiming, now_s: float) -> RateWatch | None:
        """The rate watch of this run (started at ``now_s``), or None when silenced."""
        if self.rate_watch is False:
            return None
        watch = self.rate_watch if isinstance(self.rate_watch, RateWatch) else RateWatch()
        watch.start(timing, now_s)
        return watch

    def _run(self, max_steps: int, timing: LoopTiming) -> str:
        clock, period = self.clock, self.period_s
        t0 = clock.now()
        watch = self._watch(timing, t0)
        slot = 0  # index on the deadline grid t0 + slot·period
        last_start: float | None = None
        for index in range(max_steps):
            deadline = t0 + slot * period
            clock.sleep_until(deadline)
            start = clock.now()
            timing.start_error_s.append(max(0.0, start - deadline))
            if last_start is not None:
                timing.intervals_s.append(start - last_start)
            last_start = start
            if self.sinks is not None:
                self.sinks.check()

            observation = self.robot.get_observation()
            t_read = clock.now()
            action = self.action_source(observation)
            check_action(action, self._action_keys)
            t_infer = clock.now()
            sent = self.robot.send_action(action)
            t_send = clock.now()
            if self.sinks is not None:
                self._submit(index, start, observation, sent)
            t_write = clock.now()
            _record_stages(timing, (start, t_read, t_infer, t_send, t_write))

            if self.should_stop():
                return "stopped"
            slot += 1 + _skip_after_overrun(timing, t_write, t0 + (slot + 1) * period, period)
            if watch is not None:
                watch.step(t_write)
        return ""

    def _submit(
        self, index: int, start_s: float, observation: dict[str, Any], sent: dict[str, float]
    ) -> None:
        """Hand this step's frame to the sink worker (never blocks)."""
        assert self.sinks is not None
        frame = LoopFrame(
            index=index,
            timestamp_s=index * self.period_s,
            step_start_s=start_s,
            observation=dict(observation),
            action=dict(sent),
            capture_times_s=dict(self.robot.capture_times_s),
        )
        self.sinks.submit(frame)


def _record_stages(timing: LoopTiming, times_s: tuple[float, float, float, float, float]) -> None:
    """Append the duration of each stage, from the step's start/read/infer/send/write times (s)."""
    for name, begin, end in zip(STAGES, times_s[:-1], times_s[1:], strict=True):
        timing.stages_s[name].append(end - begin)


def _skip_after_overrun(
    timing: LoopTiming, end_s: float, next_deadline_s: float, period_s: float
) -> int:
    """Count an overrun if the step ended after the next deadline; return how many deadlines to
    skip so the loop stays on its grid instead of bursting to catch up."""
    if end_s <= next_deadline_s:
        return 0
    timing.overruns += 1
    behind = math.floor((end_s - next_deadline_s) / period_s)
    timing.skipped_deadlines += max(0, behind)
    return max(0, behind)


def _raise_priority(priority: int | None) -> Callable[[], None]:
    """Run the calling thread under ``SCHED_FIFO`` at ``priority`` (Linux; needs CAP_SYS_NICE or an
    rtprio limit); return how to restore it. Without permission it logs once and changes nothing.
    """
    if priority is None or not hasattr(os, "sched_setscheduler"):
        return lambda: None
    try:
        old_policy = os.sched_getscheduler(0)
        old_param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as exc:
        log.warning(
            "real-time priority %d not allowed (%s); the loop runs at normal priority. "
            "Grant it with `ulimit -r %d` (limits.conf rtprio) or CAP_SYS_NICE.",
            priority,
            exc,
            priority,
        )
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, old_policy, old_param)

    return restore
