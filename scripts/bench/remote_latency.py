"""A remote policy at 0, 50 and 150 ms round trip against local synchronous inference.

ACT (the ``act_cpu`` preset, randomly initialised unless ``--policy-path`` is given) drives the
SO-101 sim twin (two 96×96 cameras) at 30 Hz in real time for ``--seconds`` per case:

- ``local``: the policy in the control loop (``bricobot rollout policy_path=...``);
- ``remote``: ``bricobot serve-policy`` in another process, reached through a TCP proxy that delays
  every byte by half the round trip ± jitter, with the latency-hiding client
  (``bricobot rollout remote=...``);
- ``remote_blocking`` (baseline): the same server asked synchronously at every step.

For each case: control-loop period error p99, overruns, steps without a fresh action (a held
goal, or for synchronous inference a skipped deadline), and two ages at the moment an action is
sent, p99: observation age (the newest observation behind it: how fresh the policy's view was) and
action age (the oldest one blended into it; ACT's temporal ensembling averages predictions up to a
chunk old, locally too). The proxy and the server run in their own processes. Prints JSON.

    python scripts/bench/remote_latency.py
    python scripts/bench/remote_latency.py --seconds 10 --rtts-ms 0 150 --jitter-ms 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bricobot.policies.base import FeatureConfig, Policy
from bricobot.policies.checkpoint import boundary_features, load_policy, make_policy, save_policy
from bricobot.policies.presets import load_preset
from bricobot.registry import make
from bricobot.robots.base import Robot
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobotConfig
from bricobot.runtime.loop import ControlLoop
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.config import RemoteClientConfig, RemoteOptions
from bricobot.runtime.remote.connection import PolicyConnection
from bricobot.runtime.remote.protocol import observation_blobs
from bricobot.runtime.remote.wire import WireLimits
from bricobot.runtime.rollout import PolicyActionSource

FPS = 30


def sim_config(cameras: list[str], height: int, width: int) -> SimRobotConfig:
    return SimRobotConfig(
        task_config={"cameras": cameras, "image_height": height, "image_width": width}, seed=1000
    )


def random_act_checkpoint(robot: Robot, directory: Path) -> Path:
    """The act_cpu preset for ``robot``'s features, randomly initialised, saved as a checkpoint."""
    features = boundary_features(robot.observation_features, robot.action_features)
    inputs = {k: v for k, v in features.items() if k != "action"}
    outputs = {"action": features["action"]}
    config = replace(load_preset("act_cpu"), input_features=inputs, output_features=outputs)
    torch.manual_seed(0)
    return save_policy(make_policy(config, stats(inputs, outputs)), directory)


def stats(inputs: dict[str, FeatureConfig], outputs: dict[str, FeatureConfig]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, feature in {**inputs, **outputs}.items():
        n = 3 if key.startswith("observation.images.") else feature.shape[0]
        scale = 0.25 if n == 3 else 10.0
        out[key] = {
            "mean": np.full(n, 0.5 if n == 3 else 0.0),
            "std": np.full(n, scale),
            "min": np.full(n, -scale),
            "max": np.full(n, scale),
        }
    return out


def start_server(checkpoint: Path) -> tuple[subprocess.Popen[str], int]:
    """``bricobot serve-policy`` in another process (one math thread); returns it and its port."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    code = (
        "from bricobot.cli.serve_policy import ServePolicyCommandConfig, run; "
        f"run(ServePolicyCommandConfig(policy_path={str(checkpoint)!r}, port=0, device='cpu'))"
    )
    command = [sys.executable, "-c", code]  # `bricobot serve-policy` without its config parsing
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        if match:
            return process, int(match.group(1))
    raise RuntimeError(f"serve-policy exited with {process.wait()} before listening")


def start_proxy(port: int, one_way_s: float, jitter_s: float) -> tuple[subprocess.Popen[str], str]:
    """A :class:`~bricobot.runtime.remote.delay_proxy.DelayProxy` to ``127.0.0.1:port`` in its own process
    (as the network would be: its threads do not compete with the control loop's interpreter)."""
    code = (
        "import sys; from bricobot.runtime.remote.delay_proxy import DelayProxy; "
        f"p = DelayProxy(('127.0.0.1', {port}), {one_way_s}, {jitter_s}, seed=1).start(); "
        "print('proxy on %s:%d' % p.address, flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"proxy on (\S+)", line)
    if match is None:
        raise RuntimeError(f"the delay proxy did not start: {line!r}")
    return process, match.group(1)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)


def loop_figures(run: Any) -> dict[str, Any]:
    s = run.timing.summary()
    return {
        "steps": s["steps"],
        "fps_measured": s["fps_measured"],
        "period_error_ms_p99": s["period_error_ms"]["p99"],
        "start_error_ms_p99": s["start_error_ms"]["p99"],
        "overruns": s["overruns"],
        "skipped_deadlines": s["skipped_deadlines"],
        "infer_ms_p99": s["stages_ms"]["infer"]["p99"],
    }


def run_local(robot: Robot, policy: Policy, seconds: float) -> dict[str, Any]:
    source = PolicyActionSource(policy, robot)
    robot.reset_episode()  # type: ignore[attr-defined]
    source.reset()
    run = ControlLoop(robot, source, FPS).run(duration_s=seconds)
    figures = loop_figures(run)
    # Synchronous inference: the newest prediction comes from this step's observation (age: the
    # infer stage); a missed deadline is a step with no action at all. With temporal ensembling
    # the executed action also averages the predictions of the last chunk_size - 1 steps, so its
    # oldest observation is that many periods older (ACT's TemporalEnsembler, by construction).
    figures["steps_without_fresh_action"] = figures["skipped_deadlines"]
    figures["obs_age_ms_p99"] = figures["infer_ms_p99"]
    config = policy.config
    ensembles = getattr(config, "temporal_ensemble_coeff", None) is not None
    kept = getattr(config, "chunk_size" if ensembles else "n_action_steps", 1) - 1
    figures["action_age_ms_p99"] = round(kept * 1000.0 / FPS + figures["infer_ms_p99"], 3)
    return {"case": "local", "rtt_ms": 0, **figures}


def run_remote(robot: Robot, where: str, seconds: float, rtt_ms: float) -> dict[str, Any]:
    config = RemoteClientConfig(address=where, options=RemoteOptions(request_timeout_s=5.0))
    source = RemotePolicySource(config, robot, fps=FPS)
    source.connect()
    try:
        robot.reset_episode()  # type: ignore[attr-defined]
        source.reset()
        run = ControlLoop(robot, source, FPS).run(duration_s=seconds)
    finally:
        source.close()
    remote = source.stats.summary()
    return {
        "case": "remote",
        "rtt_ms": rtt_ms,
        **loop_figures(run),
        "steps_without_fresh_action": remote["steps_without_fresh_action"],
        "action_age_ms_p99": remote["action_age_ms"]["p99"],
        "obs_age_ms_p99": remote["obs_age_ms"]["p99"],
        "round_trip_ms_median": remote["round_trip_ms"]["median"],
        "round_trip_ms_p90": remote["round_trip_ms"]["p90"],
        "chunks": remote["chunks"],
        "stale_chunks_dropped": remote["stale_chunks_dropped"],
        "request_margin_steps": source.margin_steps,
    }


class BlockingRemote:
    """The naive client: one round trip per step, waiting for it; executes the chunk's action 0."""

    def __init__(self, robot: Robot, where: str) -> None:
        host, port = where.rsplit(":", 1)
        features = boundary_features(robot.observation_features, robot.action_features)
        self.connection = PolicyConnection.open(
            host, int(port), "", robot.robot_type, features, 5.0, WireLimits()
        )
        self.names = list(features["action"].names)
        self.seq = 0

    def __call__(self, observation: dict[str, Any]) -> dict[str, float]:
        self.seq += 1
        blobs = observation_blobs(observation, self.connection.welcome.features, "jpeg")
        chunk = self.connection.request(self.seq, 0.0, blobs, 5.0)
        return dict(zip(self.names, chunk.actions[0].tolist(), strict=True))


def run_blocking(robot: Robot, where: str, seconds: float, rtt_ms: float) -> dict[str, Any]:
    source = BlockingRemote(robot, where)
    try:
        robot.reset_episode()  # type: ignore[attr-defined]
        run = ControlLoop(robot, source, FPS).run(duration_s=seconds)
    finally:
        source.connection.close()
    figures = loop_figures(run)
    figures["steps_without_fresh_action"] = figures["skipped_deadlines"]
    figures["obs_age_ms_p99"] = figures["action_age_ms_p99"] = figures["infer_ms_p99"]
    return {"case": "remote_blocking", "rtt_ms": rtt_ms, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rtts-ms", type=float, nargs="*", default=[0.0, 50.0, 150.0])
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="± per direction")
    parser.add_argument("--policy-path", default="", help="a trained checkpoint (default: random)")
    parser.add_argument("--cameras", nargs="*", default=["front", "wrist"])
    parser.add_argument(
        "--image", type=int, nargs="+", default=[96], help="camera size: SIDE, or HEIGHT WIDTH"
    )
    parser.add_argument("--no-blocking", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("MUJOCO_GL", "egl")
    height, width = (args.image * 2)[:2]
    robot = make(ROBOTS, "robot", sim_config(args.cameras, height, width))
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = (
            Path(args.policy_path)
            if args.policy_path
            else random_act_checkpoint(robot, Path(tmp) / "act")
        )
        policy = load_policy(checkpoint).eval()
        process, port = start_server(checkpoint)
        results = []
        try:
            with robot:
                warm_up(robot, policy)
                results.append(run_local(robot, policy, args.seconds))
                for rtt_ms in args.rtts_ms:
                    jitter_s = args.jitter_ms / 1000.0 if rtt_ms else 0.0
                    proxy, where = start_proxy(port, rtt_ms / 2000.0, jitter_s)
                    try:
                        results.append(run_remote(robot, where, args.seconds, rtt_ms))
                        if not args.no_blocking:
                            results.append(run_blocking(robot, where, args.seconds, rtt_ms))
                    finally:
                        stop(proxy)
        finally:
            stop(process)
    report = {
        "benchmark": "remote_latency",
        "fps": FPS,
        "seconds_per_case": args.seconds,
        "jitter_ms_per_direction": args.jitter_ms,
        "policy": str(args.policy_path or "act_cpu, random weights"),
        "cameras": {c: [height, width] for c in args.cameras},
        "results": results,
    }
    print(json.dumps(report, indent=2))


def warm_up(robot: Robot, policy: Policy) -> None:
    """A few inferences first, so no case pays for lazy initialisation."""
    source = PolicyActionSource(policy, robot)
    for _ in range(3):
        source(robot.get_observation())
    source.reset()


if __name__ == "__main__":
    main()
