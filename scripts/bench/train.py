"""Training on a real-size dataset through ``bricobot train``: peak memory, steps/s, data wait.

Runs the ``bricobot train`` command (a subprocess, exactly as a user would) on a dataset made by
``scripts/bench/make_dataset.py``, once reading frames from video in the DataLoader workers and once
from the on-disk frame cache, and reports for each: peak resident memory of the trainer process and
of its whole process tree (trainer + workers, sampled every 0.2 s from /proc), steps/s and the
share of step time spent waiting for data (from the run's metrics.jsonl). Baselines in the same run:
the memory the removed load-everything path needed (every frame decoded: frames × H × W × 3 bytes per
camera) and the steps/s of the same policy on one fixed in-memory batch (no data loading at all).
Prints JSON.

    python scripts/bench/make_dataset.py --root /tmp/real50                 # once (about 25 min)
    python scripts/bench/train.py --root /tmp/real50 --steps 200
    python scripts/bench/train.py --root /tmp/real50 --policy act --steps 50 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bricobot.datasets.metadata import DatasetMeta


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (from /proc; 0 once it has exited)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        todo += [int(c) for c in children]
    return total


def run_train(args: argparse.Namespace, source: str, out: Path) -> dict[str, Any]:
    """One ``bricobot train`` run under /usr/bin/time -v, its tree RSS sampled meanwhile."""
    cache = "true" if source == "cache" else "false"
    cmd = [
        "/usr/bin/time", "-v", sys.executable, "-m", "bricobot.cli.main", "train",
        f"policy={args.policy}", f"dataset.root={args.root}", f"trainer.steps={args.steps}",
        f"dataset.frame_cache={cache}", f"dataset.frame_cache_dir={out / 'cache'}",
        f"trainer.device={args.device}", "trainer.val_every=0", f"trainer.log_every={args.steps}",
        "trainer.progress=false", f"output_dir={out / source}", *args.overrides,
    ]  # fmt: skip
    t0 = time.perf_counter()
    log_path = out / f"{source}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        peak_tree = 0
        while proc.poll() is None:
            peak_tree = max(peak_tree, tree_rss_bytes(proc.pid))
            time.sleep(0.2)
    stderr = log_path.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"bricobot train failed ({source}):\n{stderr[-3000:]}")
    max_rss_kb = next(
        int(line.split()[-1]) for line in stderr.splitlines() if "Maximum resident set size" in line
    )
    records = [json.loads(x) for x in (out / source / "metrics.jsonl").read_text().splitlines()]
    end = next(r for r in records if r.get("event") == "end")
    start = next(r for r in records if r.get("event") == "start")
    return {
        "source": source,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_trainer_gb": round(max_rss_kb / 1e6, 3),
        "peak_rss_process_tree_gb": round(peak_tree / 1e9, 3),
        "steps_per_s": round(end["steps_per_s"], 3),
        "data_wait_share": round(end["data_wait_share"], 4),
        "peak_gpu_memory_gb": round(end.get("peak_gpu_memory_gb", 0.0), 2),
        "cpu_threads": start["cpu_threads"],
        "data_workers": start["data_workers"],
    }


def compute_only_steps_per_s(args: argparse.Namespace, steps: int = 20) -> float:
    """Baseline: the same policy trained on one fixed batch in memory (no loading, no decode)."""
    from bricobot.policies.checkpoint import make_policy
    from bricobot.policies.presets import load_preset
    from bricobot.training.data import DataConfig, open_training_data
    from bricobot.training.trainer import build_optimizer, default_cpu_threads

    data = open_training_data(
        DataConfig(root=str(args.root), num_workers=0), load_preset(args.policy), 0.0, 0, False
    )
    if args.device == "cpu":
        torch.set_num_threads(default_cpu_threads(DataConfig().workers(), light_workers=True))
    policy = make_policy(data.config, data.stats).to(args.device)
    batch_size = data.config.batch_size
    items = [data.train[i] for i in range(batch_size)]
    batch = {
        k: torch.stack([torch.as_tensor(it[k]) for it in items]).to(args.device)
        for k in data.batch_keys
    }
    optimizer = build_optimizer(policy)
    for i in range(steps + 3):  # 3 warm-up steps
        if i == 3:
            t0 = time.perf_counter()
        loss, _ = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if args.device != "cpu":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True, help="dataset (make_dataset.py)")
    parser.add_argument("--policy", default="act_cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sources", nargs="*", default=["video", "cache"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("overrides", nargs="*", help="extra key=value for bricobot train")
    args = parser.parse_args()
    meta = DatasetMeta.load(args.root)
    decoded = sum(
        meta.total_frames
        * int(meta.features[k]["shape"][0])
        * int(meta.features[k]["shape"][1])
        * 3
        for k in meta.camera_keys
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_train(args, source, Path(tmp)) for source in args.sources]
    report = {
        "benchmark": "train",
        "dataset": {
            "root": str(args.root),
            "episodes": meta.total_episodes,
            "frames": meta.total_frames,
            "cameras": {k: meta.features[k]["shape"] for k in meta.camera_keys},
        },
        "policy": args.policy,
        "steps": args.steps,
        "device": args.device,
        "cpus": len(os.sched_getaffinity(0)),
        "runs": runs,
        "baseline": {
            "old_path_decoded_bytes_gb": round(decoded / 1e9, 1),
            "compute_only_steps_per_s": round(compute_only_steps_per_s(args), 3),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
