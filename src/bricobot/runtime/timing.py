"""Per-step timing of the control loop: stage durations, period error and overruns.

Users need to know whether a recording's timing can be trusted (a slow loop stamped at the nominal
rate is a lie). Each step records how late it started against its absolute deadline and how long
each stage took; :meth:`LoopTiming.summary` reduces that to median / p99 / max in milliseconds.
A loop that cannot keep its rate says so while it runs (:class:`RateWatch`) and in the summary
(:func:`rate_shortfall`, :func:`format_runs`), so a 12 Hz run against a 30 Hz target never passes
silently.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: A loop is "below its target" when it runs slower than this fraction of the target rate.
SLOW_RATIO = 0.9

#: Stages of one control step, in order.
STAGES = ("read", "infer", "send", "write")


@dataclass
class LoopTiming:
    """Raw per-step measurements of one run of the loop (seconds)."""

    period_s: float
    #: How late each step started against its absolute deadline ``t0 + k·period`` (s, >= 0).
    start_error_s: list[float] = field(default_factory=list)
    #: Time between consecutive step starts (s); its error is ``|interval - period|``.
    intervals_s: list[float] = field(default_factory=list)
    #: Stage name → duration of that stage at each step (s).
    stages_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    #: Steps whose work did not fit in the period (the next deadline had passed when they ended).
    overruns: int = 0
    #: Deadlines skipped after an overrun so the loop stays on its grid instead of bursting.
    skipped_deadlines: int = 0

    @property
    def steps(self) -> int:
        return len(self.start_error_s)

    def summary(self) -> dict[str, Any]:
        """Median / p99 / max in ms of period error and of each stage, plus overrun counts."""
        interval_error = [abs(i - self.period_s) for i in self.intervals_s]
        out: dict[str, Any] = {
            "steps": self.steps,
            "fps_target": round(1.0 / self.period_s, 3),
            "fps_measured": (
                round(1.0 / float(np.mean(self.intervals_s)), 3) if self.intervals_s else None
            ),
            "overruns": self.overruns,
            "skipped_deadlines": self.skipped_deadlines,
            "start_error_ms": _stats_ms(self.start_error_s),
            "period_error_ms": _stats_ms(interval_error),
            "stages_ms": {name: _stats_ms(values) for name, values in self.stages_s.items()},
        }
        return out

    def format(self) -> str:
        """A one-paragraph human summary of the run (:func:`rate_shortfall` says if it was slow)."""
        s = self.summary()
        pe = s["period_error_ms"]
        stages = ", ".join(
            f"{name} {v['median']:.1f}/{v['p99']:.1f}"
            for name, v in s["stages_ms"].items()
            if v["n"]
        )
        return (
            f"{s['steps']} steps at {s['fps_measured']} Hz (target {s['fps_target']}); "
            f"period error median {pe['median']:.2f} ms, p99 {pe['p99']:.2f} ms; "
            f"overruns {s['overruns']}; stage median/p99 ms: {stages}"
        )


def _measured_time_s(summary: dict[str, Any]) -> float:
    """Loop time of one run as measured (s): its steps at its measured rate (nominal when unknown)."""
    fps = summary.get("fps_measured") or summary["fps_target"]
    return float(summary["steps"]) / float(fps)


def rate_shortfall(summaries: list[dict[str, Any]]) -> str:
    """``"control loop ran at 12.1 Hz, below the 30 Hz target: …"`` when runs were slow, else ``""``.

    ``summaries`` are :meth:`LoopTiming.summary` dicts (one per episode). The rate is total steps over
    total measured time; the slowest stage (largest p99 in the run with most overruns) is named,
    since that is what to fix.
    """
    runs = [s for s in summaries if s["steps"] > 1]
    if not runs:
        return ""
    steps = sum(int(s["steps"]) for s in runs)
    target_hz = float(runs[0]["fps_target"])
    measured_hz = steps / sum(_measured_time_s(s) for s in runs)
    overruns = sum(int(s["overruns"]) for s in runs)
    if measured_hz >= SLOW_RATIO * target_hz and overruns <= 0.1 * steps:
        return ""
    worst = max(runs, key=lambda s: int(s["overruns"]))["stages_ms"]
    slowest = max(worst, key=lambda name: worst[name]["p99"])
    return (
        f"control loop ran at {measured_hz:.1f} Hz, below the {target_hz:g} Hz target: "
        f"{overruns} of {steps} steps overran; slowest stage: {slowest} (median "
        f"{worst[slowest]['median']:.1f} ms, p99 {worst[slowest]['p99']:.1f} ms; period "
        f"{1000.0 / target_hz:.1f} ms). {STAGE_HINTS.get(slowest, '')}"
    ).rstrip()


def format_runs(summaries: list[dict[str, Any]], what: str = "episode") -> str:
    """One line over every run of a command (e.g. every episode of a recording), plus the shortfall."""
    runs = [s for s in summaries if s["steps"]]
    if not runs:
        return "control loop: no steps ran"
    steps = sum(int(s["steps"]) for s in runs)
    overruns = sum(int(s["overruns"]) for s in runs)
    measured_hz = steps / sum(_measured_time_s(s) for s in runs)
    p99 = max(float(s["period_error_ms"]["p99"]) for s in runs)
    text = (
        f"control loop over {len(runs)} {what}(s): {steps} steps at {measured_hz:.1f} Hz "
        f"(target {float(runs[0]['fps_target']):g}), {overruns} overran, "
        f"worst period error p99 {p99:.2f} ms"
    )
    shortfall = rate_shortfall(runs)
    return f"{text}\n{shortfall}" if shortfall else text


#: What to try when a stage is the one that makes the loop miss its period.
STAGE_HINTS = {
    "read": "Reading the robot (servo bus, cameras) is slow: fewer or smaller cameras, or a lower fps.",
    "infer": "The policy is slow: a GPU (device=cuda), a smaller model, or a lower fps.",
    "send": "Sending to the motors is slow: check the servo bus (USB latency timer, reply timeout).",
    "write": "Handing frames off is slow: the host is overloaded; close other programs.",
}


class RateWatch:
    """Says while a loop runs that it cannot keep its rate: once when overruns start, then at most
    once every ``repeat_s`` while they go on.

    The loop calls :meth:`start` at the beginning of each run and :meth:`step` after each step (a
    float compare unless a check is due, every ``window_s`` of loop time). One watch can be shared
    by the loops of a whole recording so the warnings stay rate-limited across episodes.
    ``warn`` receives the message (default: a log warning).
    """

    def __init__(
        self,
        warn: Callable[[str], None] | None = None,
        window_s: float = 2.0,
        repeat_s: float = 30.0,
    ) -> None:
        if not (window_s > 0 and repeat_s >= 0):
            raise ValueError(f"window_s must be > 0 and repeat_s >= 0; got {window_s}, {repeat_s}")
        self.warn = warn or log.warning
        self.window_s = window_s
        self.repeat_s = repeat_s
        #: Warnings given so far (all runs).
        self.warnings = 0
        self._last_warning_s = -math.inf
        self._timing: LoopTiming | None = None
        self._window_start_s = 0.0
        self._window_steps = 0
        self._window_overruns = 0
        self._next_check_s = math.inf

    def start(self, timing: LoopTiming, now_s: float) -> None:
        """A run begins: watch ``timing`` from ``now_s`` (s, the loop's clock)."""
        self._timing = timing
        self._open_window(now_s)

    def step(self, now_s: float) -> None:
        """After each step: check the last window once it is ``window_s`` old."""
        if now_s >= self._next_check_s:
            self._check(now_s)

    def _open_window(self, now_s: float) -> None:
        timing = self._timing
        assert timing is not None
        self._window_start_s = now_s
        self._window_steps = timing.steps
        self._window_overruns = timing.overruns
        self._next_check_s = now_s + self.window_s

    def _check(self, now_s: float) -> None:
        timing = self._timing
        assert timing is not None
        steps = timing.steps - self._window_steps
        overruns = timing.overruns - self._window_overruns
        elapsed_s = now_s - self._window_start_s
        target_hz = 1.0 / timing.period_s
        measured_hz = steps / elapsed_s if elapsed_s > 0 else target_hz
        slow = overruns > 0 and measured_hz < SLOW_RATIO * target_hz
        if slow and now_s - self._last_warning_s >= self.repeat_s:
            self._last_warning_s = now_s
            self.warnings += 1
            self.warn(self._message(measured_hz, target_hz, overruns, steps))
        self._open_window(now_s)

    def _message(self, measured_hz: float, target_hz: float, overruns: int, steps: int) -> str:
        timing = self._timing
        assert timing is not None
        means_ms = {
            name: 1000.0 * sum(values[-steps:]) / steps
            for name, values in timing.stages_s.items()
            if len(values) >= steps > 0
        }
        slowest = max(means_ms, key=lambda name: means_ms[name]) if means_ms else ""
        stage = f"; slowest stage: {slowest} {means_ms[slowest]:.1f} ms per step" if slowest else ""
        return (
            f"control loop is running at {measured_hz:.1f} Hz, below the {target_hz:g} Hz target: "
            f"{overruns} of {steps} steps overran in the last {self.window_s:g} s{stage} "
            f"(period {1000.0 / target_hz:.1f} ms). {STAGE_HINTS.get(slowest, '')}"
        ).rstrip()


def _stats_ms(values_s: list[float]) -> dict[str, float]:
    if not values_s:
        return {"n": 0, "median": 0.0, "p99": 0.0, "max": 0.0}
    arr = np.asarray(values_s) * 1e3
    return {
        "n": int(arr.size),
        "median": round(float(np.median(arr)), 4),
        "p99": round(float(np.percentile(arr, 99)), 4),
        "max": round(float(arr.max()), 4),
    }


def save_timing(output_dir: str | Path, summaries: list[dict[str, Any]]) -> Path | None:
    """Write per-episode loop summaries as ``<output_dir>/loop_timing.json`` (no-op without a dir)."""
    if not output_dir:
        return None
    path = Path(output_dir) / "loop_timing.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"episodes": summaries}, indent=2) + "\n")
    return path
