"""Success of a checkpoint on the sim twin when its chunks arrive late, in simulated time.

The remote client's chunk execution (:class:`~bricobot.runtime.remote.chunks.ChunkQueue`, its
request threshold and its aggregation) driven step by step on a fake clock: a chunk requested at
step t is computed at once from the observations up to t but joins the queue only at step
t + ``delay`` — what a round trip plus server inference of ``delay`` control periods does to a
real-time loop, without the wall-clock noise of a loaded machine. It separates what latency costs a
policy from how the client spends it (blending, executing the newest chunk only, request
threshold), in minutes per variant rather than a real-time run's half hour.

A variant is ``delay=D,margin=M,agg=blend|newest|inpaint``:
``delay=0,margin=-1,agg=newest`` is the checkpoint's own local execution (a new chunk after
``n_action_steps``). ``inpaint`` passes the actions the robot will execute while the chunk is on
its way to the policy as a prefix (:meth:`Policy.predict_chunk`'s ``prefix``), executing the newest
chunk. Prints JSON per variant: successes with 95 % Wilson intervals, and how far the command
moves between consecutive steps (p99 and max over joints and steps, in the action's units: a new
chunk that disagrees with the one it replaces makes the arm jump at the switch).

    python scripts/bench/chunk_delay.py --policy-path outputs/suite/diffusion_cpu/so101_pick_cube/train \
        --episodes 200 --variants delay=0,margin=-1,agg=newest delay=7,margin=2,agg=blend
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from remote_success import FPS, SEED_START, print_report, robot_for, successes

from bricobot.policies.base import ACTION_KEY, Policy
from bricobot.policies.checkpoint import load_policy
from bricobot.runtime.remote.chunks import ChunkQueue, TimedChunk, request_threshold_steps
from bricobot.runtime.remote.client import frame_bytes
from bricobot.runtime.remote.config import PolicyServerConfig, RemoteOptions
from bricobot.runtime.remote.protocol import PREFIX_BLOB, Kind, history_blobs, observation_header
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import Frame, raw_blob

PERIOD_S = 1.0 / FPS


@dataclass
class Variant:
    delay_steps: int
    #: Fresh steps left beyond the delay when the next chunk is requested; -1: after the
    #: checkpoint's n_action_steps (its local rule).
    margin_steps: int
    aggregation: str

    @classmethod
    def parse(cls, text: str) -> Variant:
        fields = dict(part.split("=", 1) for part in text.split(","))
        variant = cls(int(fields["delay"]), int(fields["margin"]), fields["agg"])
        if variant.aggregation not in ("blend", "newest", "inpaint"):
            raise SystemExit(f"agg must be blend, newest or inpaint, got {variant.aggregation!r}")
        return variant

    def __str__(self) -> str:
        return f"delay={self.delay_steps},margin={self.margin_steps},agg={self.aggregation}"


def chunk_from(
    server: PolicyServer, history: list[dict[str, Any]], encoding: str, prefix: np.ndarray | None
) -> np.ndarray:
    """The chunk ``(n, A)`` the policy server answers to consecutive observations (oldest first),
    through the client's observation blobs (frames fit to the policy's input size, raw or JPEG
    as ``image_encoding`` resolves) and the server's own inference; ``prefix`` ``(d, A)``: the
    actions the robot executes at the chunk's first d steps."""
    image_size = tuple(server.policy.config.image_size) or None
    resolved = RemoteOptions(image_encoding=encoding).encoding_for(
        frame_bytes(server.features, image_size)  # type: ignore[arg-type]
    )
    blobs = history_blobs(history, server.features, resolved, 90, image_size)
    if prefix is not None and len(prefix):
        blobs.append(raw_blob(PREFIX_BLOB, prefix.astype(np.float32)))
    header = observation_header(0, 0.0, len(history))
    return server.chunk_for(Frame(Kind.OBSERVATION, header, {b.name: b for b in blobs}))[2]


def episode(
    server: PolicyServer, robot: Any, variant: Variant, seed: int, encoding: str
) -> dict[str, Any]:
    """One episode on the fake clock; success when the task says so at any step."""
    config = server.policy.config
    names = list(server.features[ACTION_KEY].names)  # the chunk columns, in the policy's order
    n_obs = int(getattr(config, "n_obs_steps", 1))
    chunk_len = int(getattr(config, "horizon", 0) or config.chunk_size) - n_obs + 1
    n_action_steps = int(config.n_action_steps)
    if variant.margin_steps < 0:
        threshold = chunk_len - n_action_steps
    else:
        threshold = request_threshold_steps(
            variant.delay_steps * PERIOD_S, PERIOD_S, variant.margin_steps
        )
    coeff = 0.01 if variant.aggregation == "blend" else None
    queue = ChunkQueue(PERIOD_S, max_age_s=1.0, ensemble_coeff=coeff)
    history: deque[dict[str, Any]] = deque(maxlen=n_obs)
    in_flight: tuple[int, TimedChunk] | None = None
    robot.reset_episode(seed=seed)
    last: np.ndarray | None = None
    held = 0
    jumps: list[float] = []  # largest joint change between consecutive commands, per step
    limit = int(robot.task.config.episode_length)
    for step in range(limit):
        now = step * PERIOD_S
        obs = robot.get_observation()
        history.append({k: v.copy() if isinstance(v, np.ndarray) else v for k, v in obs.items()})
        if in_flight is not None and in_flight[0] <= step:
            queue.add(in_flight[1], now)
            in_flight = None
        queue.prune(now)
        if step == 0:  # the client's reset() waits for a first chunk while the world stands still
            first = chunk_from(server, [history[0]] * n_obs, encoding, None)
            queue.add(TimedChunk(now - variant.delay_steps * PERIOD_S, first), now)
        if in_flight is None and queue.remaining_steps(now) <= threshold:
            padded = [history[0]] * (n_obs - len(history)) + list(history)
            prefix = None
            if variant.aggregation == "inpaint" and queue.chunks:
                prefix = queue.planned(now, variant.delay_steps)  # as the client sends it
            chunk = TimedChunk(now, chunk_from(server, padded, encoding, prefix))
            in_flight = (step + variant.delay_steps, chunk)
            if variant.delay_steps == 0:
                queue.add(chunk, now)
                in_flight = None
        blend = queue.blend(now)
        if blend is None:
            held += 1
            action = last if last is not None else np.array([obs[k] for k in names])
        else:
            action = blend.action
        if last is not None:
            jumps.append(float(np.abs(action - last).max()))
        last = action
        robot.send_action(dict(zip(names, action.tolist(), strict=True)))
        if robot.task.is_success():
            return {"seed": seed, "success": True, "held": held, "jumps": jumps}
    return {"seed": seed, "success": False, "held": held, "jumps": jumps}


def run(policy: Policy, variant: Variant, seeds: list[int], encoding: str) -> dict[str, Any]:
    robot = robot_for(policy.config.all_features())
    server = PolicyServer(policy, PolicyServerConfig(port=0))  # never started: its inference only
    start = time.monotonic()
    with robot:
        results = [episode(server, robot, variant, seed, encoding) for seed in seeds]
    jumps = [j for r in results for j in r["jumps"]]
    return {
        "variant": str(variant),
        "image_encoding": encoding,
        **successes(results),
        "steps_without_fresh_action": sum(r["held"] for r in results),
        # How smooth the commands are: a new chunk that disagrees with the one it replaces
        # makes the arm jump at the switch.
        "command_step_p99": round(float(np.percentile(jumps, 99)), 3),
        "command_step_max": round(float(np.max(jumps)), 3),
        "elapsed_s": round(time.monotonic() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy-path", required=True, help="a trained PickCube checkpoint")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed-start", type=int, default=SEED_START)
    parser.add_argument("--image-encoding", choices=["auto", "jpeg", "raw"], default="auto")
    parser.add_argument("--variants", nargs="+", default=["delay=0,margin=-1,agg=newest"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("MUJOCO_GL", "egl")
    variants = [Variant.parse(v) for v in args.variants]
    policy = load_policy(args.policy_path).eval()
    seeds = [args.seed_start + i for i in range(args.episodes)]
    results = []
    for variant in variants:
        torch.manual_seed(0)
        results.append(run(policy, variant, seeds, args.image_encoding))
        print(json.dumps(results[-1]), flush=True)
    print_report("chunk_delay", args.policy_path, seeds, results)


if __name__ == "__main__":
    main()
