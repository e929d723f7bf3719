"""Chunks on the robot's clock: time indexing, ACT's blending, staleness, the request threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bricobot.policies.act.model import TemporalEnsembler
from bricobot.runtime.remote.chunks import ChunkQueue, TimedChunk, request_threshold_steps

PERIOD_S = 0.1


def chunk(obs_time_s: float, n: int, offset: float = 0.0, dim: int = 2) -> TimedChunk:
    """Action j of the chunk is ``offset + j`` in every dimension."""
    actions = np.repeat((offset + np.arange(n, dtype=np.float32))[:, None], dim, axis=1)
    return TimedChunk(obs_time_s, actions)


def test_a_late_chunk_starts_at_the_action_for_now() -> None:
    queue = ChunkQueue(PERIOD_S, max_age_s=10.0, ensemble_coeff=None)
    queue.add(chunk(obs_time_s=1.0, n=10), now_s=1.31)  # arrived 3 periods after its observation
    blend = queue.blend(1.31)
    assert blend is not None and blend.action[0] == 3.0
    assert blend.obs_age_s == pytest.approx(0.31) and blend.chunks == 1
    assert queue.remaining_steps(1.31) == 7


def test_blending_one_chunk_per_step_equals_acts_temporal_ensembling() -> None:
    """A chunk every step, blended by time, gives exactly ACT's own ensembled actions."""
    rng = np.random.default_rng(0)
    n, coeff = 6, 0.3
    chunks = rng.normal(size=(12, n, 3)).astype(np.float32)
    ensembler = TemporalEnsembler(coeff, n)
    queue = ChunkQueue(PERIOD_S, max_age_s=100.0, ensemble_coeff=coeff)
    for t, actions in enumerate(chunks):
        now = t * PERIOD_S
        expected = ensembler.update(torch.from_numpy(actions)[None])[0].numpy()
        queue.prune(now)
        queue.add(TimedChunk(now, actions), now)
        blend = queue.blend(now)
        assert blend is not None
        np.testing.assert_allclose(blend.action, expected, rtol=1e-5, atol=1e-6)


def test_no_action_from_an_observation_older_than_the_bound_is_ever_returned() -> None:
    queue = ChunkQueue(PERIOD_S, max_age_s=0.35, ensemble_coeff=0.01)
    queue.add(chunk(0.0, n=20), now_s=0.05)
    ages = []
    for step in range(10):
        blend = queue.blend(step * PERIOD_S)
        queue.prune(step * PERIOD_S)
        if blend is not None:
            ages.append(blend.action_age_s)
    assert len(ages) == 4 and max(ages) <= 0.35  # steps 0..3 only, although 20 actions came
    assert queue.chunks == [] and queue.dropped_stale == 1
    assert not queue.add(chunk(0.0, n=20), now_s=0.5)  # stale on arrival: dropped at once
    assert queue.dropped_stale == 2 and queue.blend(0.5) is None


def test_overlapping_chunks_are_averaged_and_the_ages_span_them() -> None:
    queue = ChunkQueue(PERIOD_S, max_age_s=10.0, ensemble_coeff=0.0)  # uniform weights
    queue.add(chunk(0.0, n=10, offset=0.0), 0.0)
    queue.add(chunk(0.2, n=10, offset=100.0), 0.25)
    blend = queue.blend(0.3)  # old chunk's action 3, new chunk's action 1
    assert blend is not None and blend.action[0] == pytest.approx((3.0 + 101.0) / 2)
    assert blend.chunks == 2
    assert blend.obs_age_s == pytest.approx(0.1) and blend.action_age_s == pytest.approx(0.3)
    newest = ChunkQueue(PERIOD_S, max_age_s=10.0, ensemble_coeff=None)
    for c in queue.chunks:
        newest.add(c, 0.25)
    assert newest.blend(0.3).action[0] == 101.0  # type: ignore[union-attr]


def test_remaining_steps_counts_the_fresh_steps_of_the_newest_chunk() -> None:
    queue = ChunkQueue(PERIOD_S, max_age_s=0.55, ensemble_coeff=0.01)
    assert queue.remaining_steps(0.0) == 0
    queue.add(chunk(0.0, n=20), 0.0)
    assert queue.remaining_steps(0.0) == 6  # limited by age: steps at 0.0 .. 0.5
    assert queue.remaining_steps(0.3) == 3
    short = ChunkQueue(PERIOD_S, max_age_s=10.0)
    short.add(chunk(0.0, n=4), 0.0)
    assert short.remaining_steps(0.1) == 3  # limited by length


@pytest.mark.parametrize(
    ("rtt_s", "period_s", "margin", "expected"),
    [(0.0, 1 / 30, 2, 2), (0.15, 1 / 30, 2, 7), (0.25, 0.1, 0, 3), (0.5, 0.1, 1, 6)],
)
def test_the_request_threshold_covers_the_round_trip(
    rtt_s: float, period_s: float, margin: int, expected: int
) -> None:
    """ceil(rtt / period) + margin: 150 ms at 30 Hz is 4.5 periods, so 5 steps plus the margin."""
    assert request_threshold_steps(rtt_s, period_s, margin) == expected


def test_planned_actions_are_what_the_next_steps_will_execute() -> None:
    """The prefix sent with a request: the actions ``blend`` returns at the next steps, stopping
    where nothing fresh covers a step (past the chunk's end, or beyond the age bound)."""
    queue = ChunkQueue(PERIOD_S, max_age_s=0.75, ensemble_coeff=None)
    queue.add(chunk(obs_time_s=1.0, n=10), now_s=1.2)
    planned = queue.planned(1.2, 4)
    assert planned.shape == (4, 2)
    for k, action in enumerate(planned):
        blend = queue.blend(1.2 + k * PERIOD_S)
        assert blend is not None
        np.testing.assert_array_equal(action, blend.action)
    np.testing.assert_array_equal(planned[:, 0], [2, 3, 4, 5])
    # Steps 1.2 … 1.7 are fresh (age ≤ 0.75 s); 1.8 would execute an action from a stale chunk.
    assert len(queue.planned(1.2, 20)) == 6
    assert queue.planned(5.0, 3).shape == (0, 2)  # all of it in the past
    assert ChunkQueue(PERIOD_S, max_age_s=1.0).planned(0.0, 3).shape == (0, 0)
