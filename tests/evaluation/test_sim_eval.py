"""Evaluation: deterministic for a seed list, per-episode JSON, features checked before running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from gymnasium.wrappers import TimeLimit

from bricobot.evaluation.sim_eval import EvalConfig, evaluate_env
from bricobot.features import FeatureMismatchError
from bricobot.policies.checkpoint import make_policy
from tests.fakes.policy_batches import make_stats, tiny_act_config
from tests.fakes.policy_env import ReachEnv


def env_fn() -> TimeLimit:
    return TimeLimit(ReachEnv(), max_episode_steps=12)


def policy(**kw: object) -> torch.nn.Module:
    cfg = tiny_act_config(**kw)
    torch.manual_seed(0)
    return make_policy(cfg, make_stats(cfg.input_features, cfg.output_features))


def test_same_seeds_give_the_same_results(tmp_path: Path) -> None:
    cfg = EvalConfig(episodes=5, num_envs=2, videos=0, progress=False, max_steps=12)
    a = evaluate_env(policy(), env_fn, cfg, tmp_path / "a")
    b = evaluate_env(policy(), env_fn, cfg, tmp_path / "b")
    assert a.episodes == b.episodes
    assert [e["seed"] for e in a.episodes] == list(range(1_000_000, 1_000_005))
    info = json.loads((tmp_path / "a/eval_info.json").read_text())
    assert info["summary"]["episodes"] == 5 and len(info["per_episode"]) == 5
    low, high = info["summary"]["ci95_wilson"]
    assert 0.0 <= low <= a.success_rate + 1e-9 and a.success_rate <= high <= 1.0


def test_an_expert_policy_scores_full_marks_and_a_wilson_interval(tmp_path: Path) -> None:
    class Expert(torch.nn.Module):
        """Reads the target off the image, as a perfect policy would."""

        def __init__(self) -> None:
            super().__init__()
            self.config = tiny_act_config()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def reset(self) -> None:
            pass

        def select_action(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
            img = obs["observation.images.front"][:, 0]  # (B, H, W)
            b = img.shape[0]
            idx = img.reshape(b, -1).argmax(1)
            r, c = idx // img.shape[2] + 2, idx % img.shape[2] + 2
            action = torch.zeros(b, 6)
            action[:, 0], action[:, 1] = (r.float() - 16) * 4, (c.float() - 16) * 4
            return action

    cfg = EvalConfig(episodes=20, num_envs=5, videos=0, progress=False, max_steps=12)
    result = evaluate_env(Expert(), env_fn, cfg, tmp_path)  # type: ignore[arg-type]
    assert result.success_rate == 1.0
    assert all(0 <= e["first_success_step"] < 12 for e in result.episodes)
    # Wilson's interval for 20/20 is about [0.84, 1.0], never the degenerate [1, 1].
    assert 0.8 < result.ci_low < 0.9 and result.ci_high == pytest.approx(1.0)


def test_feature_mismatch_is_refused_before_any_episode(tmp_path: Path) -> None:
    cfg = EvalConfig(episodes=2, num_envs=2, videos=0, progress=False, max_steps=12)
    from tests.fakes.policy_batches import make_features

    inputs, outputs = make_features(cameras=("wrist",))
    bad = policy(input_features=inputs, output_features=outputs)
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.wrist"):
        evaluate_env(bad, env_fn, cfg, tmp_path)
    assert not (tmp_path / "eval_info.json").exists()
