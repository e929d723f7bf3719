"""Success rate of a trained checkpoint on the sim twin: local inference vs a remote policy.

Each episode runs the real-time loop at 30 Hz on the SO-101 twin (PickCube, the checkpoint's
cameras and image size) from a held-out seed (1,000,000 + i, as ``bricobot eval``) until the task
succeeds or its episode length runs out. ``local`` runs the policy in the loop; ``remote`` runs
``bricobot serve-policy`` in another process behind a TCP proxy that adds ``--rtt-ms`` of round
trip (± ``--jitter-ms`` per direction), with the latency-hiding client. Prints JSON: successes with
95 % Wilson intervals, mean steps, and for remote the steps without a fresh action and action ages.

    python scripts/bench/remote_success.py --policy-path outputs/demo/<time>/train --episodes 200
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from statistics import median
from typing import Any

import torch
from remote_latency import start_proxy, start_server, stop

from bricobot.envs.metrics import wilson_interval
from bricobot.policies.base import IMAGE_PREFIX
from bricobot.policies.checkpoint import load_policy, resolve_checkpoint
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobot, SimRobotConfig
from bricobot.runtime.loop import ControlLoop
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.config import RemoteClientConfig, RemoteOptions
from bricobot.runtime.rollout import PolicyActionSource, RolloutSource
from bricobot.runtime.timing import RateWatch

FPS = 30
SEED_START = 1_000_000


def robot_for(policy_features: dict[str, Any]) -> SimRobot:
    """The sim twin with the checkpoint's cameras at its image size."""
    cameras = [k.removeprefix(IMAGE_PREFIX) for k in policy_features if k.startswith(IMAGE_PREFIX)]
    height, width = (
        (policy_features[f"{IMAGE_PREFIX}{cameras[0]}"].shape[:2]) if cameras else (96, 96)
    )
    config = SimRobotConfig(
        task_config={"cameras": cameras, "image_height": height, "image_width": width}
    )
    robot: SimRobot = make(ROBOTS, "robot", config)
    return robot


def episodes(
    robot: SimRobot, source: RolloutSource, seeds: list[int], on_episode: Callable[[], None]
) -> list[dict[str, Any]]:
    """One real-time episode per seed; success when the task says so at any step."""
    limit = int(robot.task.config.episode_length)
    watch = RateWatch()  # one rate warning for the whole run, not one per episode
    results = []
    for seed in seeds:
        robot.reset_episode(seed=seed)
        source.reset()
        run = ControlLoop(
            robot, source, FPS, should_stop=robot.task.is_success, rate_watch=watch
        ).run(max_steps=limit)
        results.append({"seed": seed, "success": run.reason == "stopped", "steps": run.steps})
        results[-1]["overruns"] = run.timing.overruns
        on_episode()
    return results


def successes(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Episodes, successes, success rate and its 95 % Wilson interval of per-episode results."""
    n = len(results)
    wins = sum(r["success"] for r in results)
    low, high = wilson_interval(wins, n)
    return {
        "episodes": n,
        "successes": wins,
        "success_rate": wins / n,
        "ci95_wilson": [round(float(low), 4), round(float(high), 4)],
    }


def print_report(benchmark: str, policy_path: str, seeds: list[int], results: list[Any]) -> None:
    """The benchmark's JSON: the checkpoint, the control rate, the seed range, the results."""
    report = {
        "benchmark": benchmark,
        "policy": str(resolve_checkpoint(policy_path)),
        "fps": FPS,
        "seeds": [seeds[0], seeds[-1]],
        "results": results,
    }
    print(json.dumps(report, indent=2))


def summary(mode: str, results: list[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    n = len(results)
    return {
        "mode": mode,
        **successes(results),
        "mean_steps": round(sum(r["steps"] for r in results) / n, 2),
        "overruns": sum(r["overruns"] for r in results),
        "elapsed_s": round(elapsed_s, 1),
    }


def run_local(path: str, seeds: list[int]) -> dict[str, Any]:
    policy = load_policy(path).eval()
    robot = robot_for(policy.config.all_features())
    start = time.monotonic()
    with robot:
        results = episodes(robot, PolicyActionSource(policy, robot), seeds, lambda: None)
    return summary("local", results, time.monotonic() - start)


def run_remote(path: str, seeds: list[int], rtt_ms: float, jitter_ms: float) -> dict[str, Any]:
    policy = load_policy(path)
    robot = robot_for(policy.config.all_features())
    del policy
    process, port = start_server(resolve_checkpoint(path))
    proxy, where = start_proxy(port, rtt_ms / 2000.0, jitter_ms / 1000.0)
    stats: list[dict[str, Any]] = []
    start = time.monotonic()
    try:
        config = RemoteClientConfig(address=where, options=RemoteOptions(request_timeout_s=5.0))
        with RemotePolicySource(config, robot, fps=FPS) as source, robot:
            results = episodes(robot, source, seeds, lambda: stats.append(source.stats.summary()))
    finally:
        stop(proxy)
        stop(process)
    out = summary("remote", results, time.monotonic() - start)
    out["rtt_ms"], out["jitter_ms_per_direction"] = rtt_ms, jitter_ms
    out["steps_without_fresh_action"] = sum(s["steps_without_fresh_action"] for s in stats)
    out["action_age_ms_p99_worst_episode"] = max(s["action_age_ms"]["p99"] for s in stats)
    out["obs_age_ms_p99_worst_episode"] = max(s["obs_age_ms"]["p99"] for s in stats)
    out["round_trip_ms_p90_worst_episode"] = max(s["round_trip_ms"]["p90"] for s in stats)
    out["latency_ms_median_of_episodes"] = median(s["latency_ms"]["median"] for s in stats)
    out["server_infer_ms_median_of_episodes"] = median(
        s["server_infer_ms"]["median"] for s in stats
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy-path", required=True, help="a trained PickCube checkpoint")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed-start", type=int, default=SEED_START)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0, help="± per direction")
    parser.add_argument("--modes", nargs="*", default=["local", "remote"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("MUJOCO_GL", "egl")
    seeds = [args.seed_start + i for i in range(args.episodes)]
    results = []
    for mode in args.modes:
        if mode == "local":
            results.append(run_local(args.policy_path, seeds))
        else:
            results.append(run_remote(args.policy_path, seeds, args.rtt_ms, args.jitter_ms))
    print_report("remote_success", args.policy_path, seeds, results)


if __name__ == "__main__":
    main()
