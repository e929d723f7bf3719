"""Scripted experts' success rates and simulation speed of every registered task, as JSON.

Per task (plain variant): the expert's success over ``--episodes`` seeded episodes (seeds 0…n-1;
success = the predicate held at any step, so an episode stops at its first success) with a 95 %
Wilson interval, the median and largest step of first success, and the seeds it failed; then env
steps per second of the gymnasium env, state only and with two 96×96 cameras. Baseline in the same
run: raw ``mj_step`` calls for one control period (the physics floor under every case).

    MUJOCO_GL=egl nice python scripts/bench/experts.py --episodes 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import gymnasium as gym
import numpy as np

import bricobot.envs  # noqa: F401  (registers the gym ids)
from bricobot.envs.experts import make_expert
from bricobot.envs.metrics import wilson_interval
from bricobot.envs.registration import GYM_IDS
from bricobot.envs.registry import ENVS
from bricobot.envs.task import Task
from bricobot.loading import from_dict

TARGET_SUCCESS = 0.95


def make_task(name: str, **overrides: Any) -> Task:
    entry = ENVS[name]
    task: Task = entry.impl_class()(from_dict(entry.config_class(), {"type": name, **overrides}))
    return task


def expert_success(name: str, episodes: int) -> dict[str, Any]:
    """Success of the task's expert over seeds 0…episodes-1."""
    task = make_task(name, cameras=[])
    expert = make_expert(task)
    first_success: list[int] = []
    failed: list[int] = []
    start = time.perf_counter()
    for seed in range(episodes):
        task.reset(seed)
        expert.reset()
        for step in range(task.config.episode_length):
            task.step(expert.act())
            if task.is_success():
                first_success.append(step)
                break
        else:
            failed.append(seed)
    k = len(first_success)
    low, high = wilson_interval(k, episodes)
    return {
        "episodes": episodes,
        "successes": k,
        "success_rate": round(k / episodes, 4),
        "wilson95": [round(low, 4), round(high, 4)],
        "meets_target": k / episodes >= TARGET_SUCCESS,
        "median_steps_to_success": float(np.median(first_success)) if first_success else None,
        "max_steps_to_success": max(first_success) if first_success else None,
        "episode_length": task.config.episode_length,
        "failed_seeds": failed,
        "seconds": round(time.perf_counter() - start, 1),
    }


def env_steps_per_s(name: str, cameras: list[str], steps: int) -> float:
    """Steps/s of the plain gym env holding the home pose (reset when it truncates)."""
    env_id = next(i for i, g in GYM_IDS.items() if g.task == name and not g.overrides)
    env = gym.make(env_id, cameras=cameras, image_height=96, image_width=96)
    env.reset(seed=0)
    action = env.unwrapped.task.home_pose().astype(np.float32)  # type: ignore[attr-defined]
    env.step(action)  # warm-up: renderer creation
    start = time.perf_counter()
    for i in range(steps):
        _, _, _, truncated, _ = env.step(action)
        if truncated:
            env.reset(seed=i)
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def physics_steps_per_s(name: str, steps: int) -> float:
    """Control periods of raw ``mj_step`` per second (no Python task code, no rendering)."""
    task = make_task(name, cameras=[])
    task.reset(0)
    start = time.perf_counter()
    for _ in range(steps):
        task._mj.mj_step(task.model, task.data, nstep=task.substeps)
    return steps / (time.perf_counter() - start)


def speed(name: str, steps: int) -> dict[str, float]:
    cameras = make_task(name).config.cameras[:2]
    return {
        "baseline_physics_only_steps_per_s": round(physics_steps_per_s(name, steps * 4)),
        "state_only_steps_per_s": round(env_steps_per_s(name, [], steps * 4)),
        "two_cams_96x96_steps_per_s": round(env_steps_per_s(name, cameras, steps)),
        "cameras": cameras,  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--speed-steps", type=int, default=300)
    parser.add_argument("--tasks", help="comma-separated ENVS names (default: all)")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-experts", action="store_true", help="measure the speed only")
    args = parser.parse_args()
    tasks = args.tasks.split(",") if args.tasks else sorted(ENVS)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "target_success": TARGET_SUCCESS,
        "tasks": {},
    }
    for name in tasks:
        row: dict[str, Any] = {}
        if not args.no_experts:
            row["expert"] = expert_success(name, args.episodes)
        if not args.no_speed:
            row["speed"] = speed(name, args.speed_steps)
        result["tasks"][name] = row
    print(json.dumps(result))


if __name__ == "__main__":
    main()
