"""Policy evaluation in simulation: many episodes in parallel, honest statistics, videos.

Episodes run in batches of ``num_envs`` gymnasium environments (``SyncVectorEnv``, or
``AsyncVectorEnv`` with one process per env). Each episode's seed comes from a fixed list starting at
``seed_start`` (1,000,000 by default, far from the seeds used to record demonstrations), so the
same policy and seed list always give the same result. An episode succeeds if the env reported
success at any step before it ended. The success rate comes with a 95 % Wilson interval; every
episode's result goes to ``eval_info.json``; the first ``videos`` episodes are saved as mp4.

Before anything runs, the policy's features are compared with the env's by name
(:func:`bricobot.policies.checkpoint.check_features`).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from bricobot.features import STATE_KEY, is_image_key
from bricobot.policies.base import FeatureConfig, Policy, observation_to_batch
from bricobot.policies.checkpoint import check_features

EnvFn = Callable[[], gym.Env]


@dataclass
class EvalConfig:
    episodes: int = 50
    #: First evaluation seed; episode i uses seed_start + i.
    seed_start: int = 1_000_000
    #: Environments stepped together (one batched policy call for all of them).
    num_envs: int = 10
    #: Videos of the first N episodes (0 = none).
    videos: int = 2
    #: One process per environment (AsyncVectorEnv) instead of stepping them in this process.
    async_envs: bool = False
    #: Step limit per episode; None uses the env's own time limit.
    max_steps: int | None = None
    #: Frames per second of the videos; None uses the env's metadata (render_fps) or 30.
    video_fps: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.episodes <= 0 or self.num_envs <= 0:
            raise ValueError("episodes and num_envs must be positive")
        if self.seed_start < 0 or self.videos < 0:
            raise ValueError("seed_start and videos must be >= 0")


@dataclass
class EvalResult:
    episodes: list[dict[str, Any]]
    success_rate: float
    ci_low: float
    ci_high: float
    seeds: list[int]
    elapsed_s: float
    output_dir: Path | None = None
    video_paths: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        n = len(self.episodes)
        return {
            "episodes": n,
            "successes": int(sum(e["success"] for e in self.episodes)),
            "success_rate": self.success_rate,
            "ci95_wilson": [self.ci_low, self.ci_high],
            "seed_start": self.seeds[0] if self.seeds else None,
            "avg_steps": float(np.mean([e["steps"] for e in self.episodes])) if n else 0.0,
            "avg_return": float(np.mean([e["return"] for e in self.episodes])) if n else 0.0,
            "elapsed_s": self.elapsed_s,
            "videos": self.video_paths,
        }


def env_fn_from_config(env_config: Any, render: bool = False) -> EnvFn:
    """A factory for the gymnasium view of the task named by ``env_config.type``."""
    from bricobot.envs.gym_env import TaskEnv

    def build() -> gym.Env:
        config = copy.deepcopy(env_config)  # each env owns its config
        return TaskEnv(task=config.type, config=config, render_mode="rgb_array" if render else None)

    return build


def env_features(env: gym.Env) -> dict[str, FeatureConfig] | None:
    """The env's features by name: declared (``env.unwrapped.features``), or read from a bricobot
    task env (joint names of its task, camera shapes of its observation space)."""
    raw = env.unwrapped
    features = getattr(raw, "features", None)
    if features is not None:
        out = {}
        for key, value in dict(features).items():
            if isinstance(value, FeatureConfig):
                out[key] = value
            elif isinstance(value, Mapping):
                shape = [int(s) for s in value.get("shape", [])]
                out[key] = FeatureConfig(shape=shape, names=list(value.get("names") or []))
        return out
    task = getattr(raw, "task", None)
    space = env.observation_space
    if task is None or not isinstance(space, gym.spaces.Dict):
        return None
    names = [f"{j}.pos" for j in task.joint_names]
    out = {
        STATE_KEY: FeatureConfig(shape=[len(names)], names=list(names)),
        "action": FeatureConfig(shape=[len(names)], names=list(names)),
    }
    for key, sub in space.spaces.items():
        if is_image_key(key) and sub.shape is not None:
            out[key] = FeatureConfig(shape=[int(s) for s in sub.shape])
    return out


def episode_limit(env: gym.Env) -> int | None:
    """Steps before the env truncates: its spec, a TimeLimit wrapper, or its task's config."""
    if env.spec is not None and env.spec.max_episode_steps:
        return int(env.spec.max_episode_steps)
    limit = getattr(env, "_max_episode_steps", None)
    if limit:
        return int(limit)
    task = getattr(env.unwrapped, "task", None)
    length = getattr(getattr(task, "config", None), "episode_length", None)
    return int(length) if length else None


def _wilson(successes: int, n: int) -> tuple[float, float]:
    from bricobot.envs.metrics import wilson_interval

    low, high = wilson_interval(successes, n)
    return float(low), float(high)


def evaluate(
    policy: Policy,
    env_config: Any,
    cfg: EvalConfig,
    output_dir: Path | None = None,
    env_fn: EnvFn | None = None,
) -> EvalResult:
    """Run ``cfg.episodes`` episodes of ``policy`` and return (and write) the results."""
    fn = env_fn or env_fn_from_config(env_config)
    render_fn = env_fn or env_fn_from_config(env_config, render=True)
    return evaluate_env(policy, fn, cfg, output_dir, video_env_fn=render_fn)


def evaluate_env(
    policy: Policy,
    env_fn: EnvFn,
    cfg: EvalConfig,
    output_dir: Path | None = None,
    video_env_fn: EnvFn | None = None,
) -> EvalResult:
    """Evaluation over envs made by ``env_fn``; ``video_env_fn`` makes the ones filmed (render)."""
    start = time.perf_counter()
    max_steps, fps = _probe_env(policy, env_fn, cfg)
    seeds = [cfg.seed_start + i for i in range(cfg.episodes)]
    device = next(policy.parameters()).device
    policy.eval()
    results: list[dict[str, Any]] = []
    videos: list[str] = []
    bar = tqdm(total=cfg.episodes, desc="eval", disable=not cfg.progress, dynamic_ncols=True)
    torch.manual_seed(cfg.seed_start)  # diffusion samples noise: keep runs reproducible
    vector_cls = gym.vector.AsyncVectorEnv if cfg.async_envs else gym.vector.SyncVectorEnv
    for first in range(0, cfg.episodes, cfg.num_envs):
        batch_seeds = seeds[first : first + cfg.num_envs]
        n_video = max(0, min(cfg.videos - first, len(batch_seeds)))
        filmed = video_env_fn if video_env_fn is not None else env_fn
        venv = vector_cls([filmed if i < n_video else env_fn for i in range(len(batch_seeds))])
        try:
            batch, frames = _run_batch(policy, venv, batch_seeds, max_steps, n_video, device)
        finally:
            venv.close()
        for i, r in enumerate(batch):
            r["episode"] = first + i
        results.extend(batch)
        if output_dir is not None:
            videos += _write_videos(output_dir, first, frames, fps)
        bar.update(len(batch_seeds))
        bar.set_postfix(success=f"{sum(r['success'] for r in results)}/{len(results)}")
    bar.close()
    successes = int(sum(r["success"] for r in results))
    low, high = _wilson(successes, len(results))
    result = EvalResult(
        results, successes / len(results), low, high, seeds,
        time.perf_counter() - start, output_dir, videos,
    )  # fmt: skip
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        info = {"summary": result.summary(), "config": asdict(cfg), "per_episode": results}
        (output_dir / "eval_info.json").write_text(json.dumps(info, indent=1) + "\n")
    return result


def _probe_env(policy: Policy, env_fn: EnvFn, cfg: EvalConfig) -> tuple[int, int]:
    """Check the policy fits the env's features; the episode limit and the video frame rate."""
    probe = env_fn()
    try:
        feats = env_features(probe)
        if feats is not None:
            check_features(policy.config.all_features(), feats, what="env")
        max_steps = cfg.max_steps or episode_limit(probe)
        fps = cfg.video_fps or int(probe.metadata.get("render_fps", 30) or 30)
    finally:
        probe.close()
    if not max_steps:
        raise ValueError("the env has no time limit: set eval.max_steps")
    return int(max_steps), fps


def _write_videos(output_dir: Path, first: int, frames: list[list[Any]], fps: int) -> list[str]:
    """Write the filmed episodes of one batch (episode numbers from ``first``); their paths."""
    paths = []
    for i, episode_frames in enumerate(frames):
        if episode_frames:
            path = output_dir / "videos" / f"episode_{first + i:04d}.mp4"
            _write_video(path, episode_frames, fps)
            paths.append(str(path))
    return paths


def _run_batch(
    policy: Policy,
    venv: gym.vector.VectorEnv,
    seeds: list[int],
    max_steps: int,
    n_video: int,
    device: torch.device,
) -> tuple[list[dict[str, Any]], list[list[np.ndarray]]]:
    n = len(seeds)
    obs, _ = venv.reset(seed=seeds)  # type: ignore[arg-type]  # vector envs take a seed list
    policy.reset()
    done = np.zeros(n, bool)
    success = np.zeros(n, bool)
    first_success = np.full(n, -1)
    returns = np.zeros(n)
    steps = np.zeros(n, int)
    frames: list[list[np.ndarray]] = [[] for _ in range(n_video)]
    for t in range(max_steps):
        if n_video:
            _grab_frames(venv, frames, done)
        batch = observation_to_batch(obs, policy.config, device)
        with torch.inference_mode():
            action = policy.select_action(batch).cpu().numpy()
        obs, reward, terminated, truncated, info = venv.step(action)
        live = ~done
        returns[live] += np.asarray(reward)[live]
        steps[live] += 1
        is_success = np.asarray(info.get("is_success", np.zeros(n, bool)), bool)
        new = live & is_success & ~success
        first_success[new] = t
        success |= live & is_success
        done |= np.asarray(terminated, bool) | np.asarray(truncated, bool)
        # Success counts at any step: an episode that succeeded has nothing left to decide.
        done |= success
        if done.all():
            break
    results = [
        {
            "seed": int(seeds[i]),
            "success": bool(success[i]),
            "steps": int(steps[i]),
            "return": float(returns[i]),
            "first_success_step": int(first_success[i]),
        }
        for i in range(n)
    ]
    return results, frames


def _grab_frames(
    venv: gym.vector.VectorEnv, frames: list[list[np.ndarray]], done: np.ndarray
) -> None:
    images = venv.call("render")  # type: ignore[attr-defined]
    for i in range(len(frames)):
        if not done[i] and images[i] is not None:
            frames[i].append(np.asarray(images[i]))


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    from bricobot.envs.video import write_mp4

    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(path, frames, fps)


def sim_eval_fn(
    env_config: Any, cfg: EvalConfig, output_dir: Path
) -> Callable[[Policy, int], dict[str, float]]:
    """An ``eval_fn`` for the trainer: evaluates in sim and returns the success rate and interval."""

    def run(policy: Policy, step: int) -> dict[str, float]:
        quiet = EvalConfig(**{**asdict(cfg), "progress": False})
        result = evaluate(policy, env_config, quiet, output_dir / f"step_{step:06d}")
        policy.train()
        return {
            "success_rate": result.success_rate,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
        }

    return run
