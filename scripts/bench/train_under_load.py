"""CPU training beside another busy process: steps/s quiet and with one CPU-bound competitor.

Runs ``act_cpu`` optimizer steps on one fixed batch (96×128 images from two cameras, the preset's
defaults) in a child process, first alone, then while another process spins on one core, for
bricobot's default thread count and for torch's default (one thread per core). The ratio loaded /
quiet is what a user on a busy laptop keeps. Prints JSON.

    python scripts/bench/train_under_load.py --steps 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from typing import Any


def spin() -> None:
    while True:
        pass


def steps_per_s(threads: int | None, steps: int, queue: Any) -> None:
    import torch

    from bricobot.policies.base import FeatureConfig
    from bricobot.policies.checkpoint import make_policy
    from bricobot.policies.presets import load_preset
    from bricobot.training.trainer import build_optimizer

    if threads is None:  # bricobot's default, chosen when training starts (competitor running)
        from bricobot.training.trainer import default_cpu_threads

        threads = default_cpu_threads(data_workers=1, light_workers=True)
    torch.set_num_threads(threads)
    queue.put(threads)
    names = [f"joint{i}.pos" for i in range(6)]
    cams = ("observation.images.front", "observation.images.wrist")
    inputs = {"observation.state": FeatureConfig([6], names=names)}
    inputs |= {cam: FeatureConfig([96, 128, 3]) for cam in cams}
    outputs = {"action": FeatureConfig([6], names=names)}
    config = load_preset("act_cpu").with_features(inputs, outputs)
    unit = {"mean": [0.0] * 6, "std": [1.0] * 6, "min": [-1.0] * 6, "max": [1.0] * 6}
    pixel = {"mean": [0.5] * 3, "std": [0.25] * 3, "min": [0.0] * 3, "max": [1.0] * 3}
    stats = {"observation.state": unit, "action": unit} | {cam: pixel for cam in cams}
    policy = make_policy(config, stats)
    b, horizon = config.batch_size, config.chunk_size
    batch = {cam: torch.randint(0, 255, (b, 3, 96, 128), dtype=torch.uint8) for cam in cams}
    batch["observation.state"] = torch.randn(b, 6)
    batch["action"] = torch.randn(b, horizon, 6)
    batch["action_is_pad"] = torch.zeros(b, horizon, dtype=torch.bool)
    optimizer = build_optimizer(policy)
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        loss, _ = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    queue.put(steps / (time.perf_counter() - t0))


def measure(threads: int | None, steps: int, competitors: int) -> tuple[int, float]:
    ctx = mp.get_context("spawn")
    spinners = [ctx.Process(target=spin, daemon=True) for _ in range(competitors)]
    for p in spinners:
        p.start()
    try:
        queue = ctx.Queue()
        worker = ctx.Process(target=steps_per_s, args=(threads, steps, queue))
        worker.start()
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"the training process failed (exit code {worker.exitcode})")
        used = int(queue.get(timeout=5))
        return used, float(queue.get(timeout=5))
    finally:
        for p in spinners:
            p.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    choices: dict[str, int | None] = {"bricobot_default": None, "torch_default": cpus}
    results = {}
    for name, threads in choices.items():
        quiet_threads, quiet = measure(threads, args.steps, competitors=0)
        loaded_threads, loaded = measure(threads, args.steps, competitors=1)
        results[name] = {
            "threads_quiet_and_loaded": [quiet_threads, loaded_threads],
            "quiet_steps_per_s": round(quiet, 3),
            "with_one_busy_process_steps_per_s": round(loaded, 3),
            "kept": round(loaded / quiet, 3),
        }
    print(json.dumps({"benchmark": "train_under_load", "cpus": cpus, "results": results}, indent=2))


if __name__ == "__main__":
    main()
