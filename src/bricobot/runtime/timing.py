"""Per-step timing of the control loop: stage durations, period error and overruns.

Users need to know whether a recording's timing can be trusted (a slow loop stamped at the nominal
rate is a lie). Each step records how late it started against its absolute deadline and how long
each stage took; :meth:`LoopTiming.summary` reduces that to median / p99 / max in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
        """A one-paragraph human summary for the end of a command."""
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
