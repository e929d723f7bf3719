"""ACT's temporal ensembling: weights exp(-k·i) with i = 0 the oldest prediction (k = 0.01)."""

from __future__ import annotations

import math

import torch
from tests.fakes.policy_batches import make_stats, observation, tiny_act_config

from bricobot.policies.act.model import TemporalEnsembler, ensemble_weights
from bricobot.policies.checkpoint import make_policy


def test_weights_are_exp_minus_k_i() -> None:
    w = ensemble_weights(5, 0.01)
    assert torch.allclose(w, torch.tensor([math.exp(-0.01 * i) for i in range(5)]))
    assert w[0] == 1.0 and bool((w[1:] < w[:-1]).all())  # the oldest prediction weighs most


def test_ensembled_action_is_the_weighted_average_of_every_chunk_covering_the_step() -> None:
    chunk, k, steps = 4, 0.5, 7
    torch.manual_seed(0)
    chunks = [torch.randn(2, chunk, 3) for _ in range(steps)]  # chunk j predicted at step j
    ensembler = TemporalEnsembler(k, chunk)
    for t in range(steps):
        got = ensembler.update(chunks[t])
        # Chunks predicted at steps t-chunk+1 .. t cover step t; i = 0 is the oldest of them.
        covering = [j for j in range(max(0, t - chunk + 1), t + 1)]
        weights = torch.tensor([math.exp(-k * i) for i in range(len(covering))])
        expected = sum(w * chunks[j][:, t - j] for w, j in zip(weights, covering, strict=True))
        assert torch.allclose(got, expected / weights.sum(), atol=1e-6), t


def test_reset_starts_a_new_episode() -> None:
    ensembler = TemporalEnsembler(0.01, 3)
    ensembler.update(torch.ones(1, 3, 2))
    ensembler.reset()
    fresh = torch.full((1, 3, 2), 7.0)
    assert torch.equal(ensembler.update(fresh), fresh[:, 0])


def test_act_with_temporal_ensembling_predicts_every_step() -> None:
    cfg = tiny_act_config(temporal_ensemble_coeff=0.01, n_action_steps=1)
    policy = make_policy(cfg, make_stats(cfg.input_features, cfg.output_features))
    obs = observation(cfg, batch_size=1)
    chunk = policy.predict_chunk(obs)
    policy.reset()
    first = policy.select_action(obs)
    second = policy.select_action(obs)  # averages chunk[1] (older) and chunk[0] (newer)
    w = ensemble_weights(2, 0.01)
    assert torch.allclose(first, chunk[:, 0], atol=1e-5)
    assert torch.allclose(second, (w[0] * chunk[:, 1] + w[1] * chunk[:, 0]) / w.sum(), atol=1e-5)
