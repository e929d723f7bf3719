"""Per-step timing of a remote policy on the robot side, reduced to what a user should check.

Each control step records the *observation age* (how old the newest observation behind the
executed action is: how fresh the policy's view of the world was) and the *action age* (how old
the oldest one is: never above ``max_action_age_s``), both on the robot's clock, or that the step
had no fresh action and the arm held its goal. Round trips (send → chunk, network plus inference)
and latencies (observation → usable chunk) are kept per chunk, with the server's inference time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EpisodeStats:
    obs_age_s: list[float] = field(default_factory=list)
    action_age_s: list[float] = field(default_factory=list)
    #: Steps at which no fresh action existed and the arm held its last goal.
    steps_without_fresh_action: int = 0
    round_trip_s: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    #: The server's inference time per chunk (part of the round trip).
    infer_s: list[float] = field(default_factory=list)
    requests: int = 0
    dropped_stale: int = 0

    def step(self, obs_age_s: float, action_age_s: float) -> None:
        self.obs_age_s.append(obs_age_s)
        self.action_age_s.append(action_age_s)

    def held(self) -> None:
        self.steps_without_fresh_action += 1

    def round_trip(self, round_trip_s: float, latency_s: float, infer_s: float) -> None:
        self.round_trip_s.append(round_trip_s)
        self.latency_s.append(latency_s)
        self.infer_s.append(infer_s)

    @property
    def steps(self) -> int:
        return len(self.obs_age_s) + self.steps_without_fresh_action

    def summary(self) -> dict[str, Any]:
        """Counts, and median / p90 / p99 / max in ms of each time series."""
        return {
            "steps": self.steps,
            "steps_without_fresh_action": self.steps_without_fresh_action,
            "requests": self.requests,
            "chunks": len(self.round_trip_s),
            "stale_chunks_dropped": self.dropped_stale,
            "obs_age_ms": stats_ms(self.obs_age_s),
            "action_age_ms": stats_ms(self.action_age_s),
            "round_trip_ms": stats_ms(self.round_trip_s),
            "latency_ms": stats_ms(self.latency_s),
            "server_infer_ms": stats_ms(self.infer_s),
        }

    def format(self) -> str:
        s = self.summary()
        return (
            f"remote policy: {s['steps']} steps, {s['steps_without_fresh_action']} without a fresh "
            f"action; action age p99 {s['action_age_ms']['p99']:.0f} ms, observation age p99 "
            f"{s['obs_age_ms']['p99']:.0f} ms; round trip median {s['round_trip_ms']['median']:.0f} "
            f"ms, p90 {s['round_trip_ms']['p90']:.0f} ms over {s['chunks']} chunks (server "
            f"inference median {s['server_infer_ms']['median']:.0f} ms); "
            f"{s['stale_chunks_dropped']} stale chunks dropped"
        )


def stats_ms(values_s: list[float]) -> dict[str, float]:
    """``{"n", "median", "p90", "p99", "max"}`` of ``values_s`` in milliseconds (0 when empty)."""
    if not values_s:
        return {"n": 0, "median": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    ms = np.asarray(values_s, dtype=np.float64) * 1000.0
    return {
        "n": len(ms),
        "median": round(float(np.median(ms)), 3),
        "p90": round(float(np.percentile(ms, 90)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
        "max": round(float(ms.max()), 3),
    }
