"""Action chunks on the robot's clock: which action to execute now, and when to ask for more.

A chunk computed from the observation stamped ``obs_time_s`` holds the actions for the control
steps at ``obs_time_s + j·period`` (j = 0 is the step of the observation itself). Indexing by time
rather than by counting calls makes the round trip, skipped deadlines and late chunks line up by
themselves: a chunk that arrives after 150 ms at 30 Hz starts at its action 5.

Overlapping chunks are blended as ACT's temporal ensembling does: the action for a step is the
average of every fresh chunk's action for that step, weighted ``exp(-k·i)`` with i = 0 the oldest
chunk (``ensemble_coeff=None`` executes the newest chunk only). A chunk whose observation is older
than ``max_age_s`` is stale and dropped, so no action computed from an older observation is ever
returned; with nothing fresh left, :meth:`ChunkQueue.blend` returns None and the caller holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class TimedChunk:
    """Actions ``(n, A)`` for the steps from ``obs_time_s`` on (robot clock, s)."""

    obs_time_s: float
    actions: np.ndarray


@dataclass
class Blend:
    """The action for now ``(A,)`` and the ages of the observations behind it (s)."""

    action: np.ndarray
    #: Age of the newest observation that contributed (how fresh the information is).
    obs_age_s: float
    #: Age of the oldest observation that contributed (bounded by ``max_age_s``).
    action_age_s: float
    chunks: int


class ChunkQueue:
    """The chunks that can still act, on one clock; not thread-safe (the caller locks)."""

    def __init__(
        self, period_s: float, max_age_s: float, ensemble_coeff: float | None = 0.01
    ) -> None:
        if not (period_s > 0 and max_age_s > 0):
            raise ValueError(f"period_s and max_age_s must be > 0, got {period_s}, {max_age_s}")
        self.period_s = period_s
        self.max_age_s = max_age_s
        self.ensemble_coeff = ensemble_coeff
        self.chunks: list[TimedChunk] = []
        #: Chunks dropped because their observation got older than ``max_age_s`` (on arrival too).
        self.dropped_stale = 0

    def clear(self) -> None:
        self.chunks.clear()

    def step_index(self, chunk: TimedChunk, now_s: float) -> int:
        """Which of ``chunk``'s actions belongs to the step at ``now_s``."""
        return round((now_s - chunk.obs_time_s) / self.period_s)

    def is_stale(self, chunk: TimedChunk, now_s: float) -> bool:
        return now_s - chunk.obs_time_s > self.max_age_s

    def add(self, chunk: TimedChunk, now_s: float) -> bool:
        """Keep ``chunk`` (in observation order) unless it is already stale; say whether kept."""
        if self.is_stale(chunk, now_s):
            self.dropped_stale += 1
            return False
        self.chunks.append(chunk)
        self.chunks.sort(key=lambda c: c.obs_time_s)
        return True

    def prune(self, now_s: float) -> None:
        """Forget chunks that are stale or whose actions all lie in the past."""
        kept = []
        for chunk in self.chunks:
            if self.is_stale(chunk, now_s):
                self.dropped_stale += 1
            elif self.step_index(chunk, now_s) < len(chunk.actions):
                kept.append(chunk)
        self.chunks = kept

    def remaining_steps(self, now_s: float) -> int:
        """Steps from now on (this one included) the newest chunk can still serve while fresh."""
        if not self.chunks:
            return 0
        newest = self.chunks[-1]
        by_length = len(newest.actions) - max(0, self.step_index(newest, now_s))
        by_age = math.floor((newest.obs_time_s + self.max_age_s - now_s) / self.period_s) + 1
        return max(0, min(by_length, by_age))

    def blend(self, now_s: float) -> Blend | None:
        """The action for the step at ``now_s`` from the fresh chunks covering it, or None."""
        covering = []
        for chunk in self.chunks:
            index = self.step_index(chunk, now_s)
            if 0 <= index < len(chunk.actions) and not self.is_stale(chunk, now_s):
                covering.append((chunk, index))
        if not covering:
            return None
        if self.ensemble_coeff is None:
            covering = covering[-1:]
        weights = np.exp(-(self.ensemble_coeff or 0.0) * np.arange(len(covering)))  # (K,)
        stacked = np.stack([c.actions[i] for c, i in covering]).astype(np.float64)  # (K, A)
        action = (weights[:, None] * stacked).sum(0) / weights.sum()  # (A,)
        return Blend(
            action=action,
            obs_age_s=now_s - covering[-1][0].obs_time_s,
            action_age_s=now_s - covering[0][0].obs_time_s,
            chunks=len(covering),
        )

    def planned(self, now_s: float, steps: int) -> np.ndarray:
        """The actions :meth:`blend` will return at the next ``steps`` steps from ``now_s`` on,
        ``(k, A)`` with ``k <= steps``: up to the first step nothing fresh covers."""
        planned = []
        for k in range(steps):
            blend = self.blend(now_s + k * self.period_s)
            if blend is None:
                break
            planned.append(blend.action)
        width = self.chunks[-1].actions.shape[1] if self.chunks else 0
        return np.array(planned, np.float32).reshape(len(planned), width)  # (k, A)


def request_threshold_steps(rtt_p90_s: float, period_s: float, margin_steps: int) -> int:
    """Fresh steps to have left when asking for the next chunk: ceil(rtt_p90 / period) + margin,
    so it arrives before the current one runs out even on a slow round trip."""
    return math.ceil(max(0.0, rtt_p90_s) / period_s) + margin_steps
