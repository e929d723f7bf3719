"""Benchmark: training-read throughput (samples/s) from video and from the decoded-frame cache.

Builds a dataset of two 480×640 cameras (AV1, g=2) with the real writer, then reads shuffled
batches of 8 through a DataLoader with 0 and 2 workers, for an ACT-style sample (one frame per
camera + a 100-step action chunk) and a Diffusion-style sample (two observation frames per camera
and state + 16 actions). Baselines in the same run: raw PyAV sequential decode and random seek
+ decode of one frame. Prints JSON.

    python scripts/bench/dataset_read.py --episodes 3 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def build(root: Path, episodes: int, frames: int, h: int, w: int, fps: int) -> None:
    from dataset_write import synthetic_frames  # same folder (on sys.path when run as a script)

    pool = {cam: synthetic_frames(60, h, w, seed) for seed, cam in enumerate(("front", "wrist"))}
    obs = {f"{j}.pos": float for j in JOINTS} | {"front": (h, w, 3), "wrist": (h, w, 3)}
    features = features_from_robot(obs, {f"{j}.pos": float for j in JOINTS}, timing=False)
    with DatasetWriter.create(root, fps, features, "bench_arm") as writer:
        for _ in range(episodes):
            for i in range(frames):
                writer.add_frame(
                    {
                        "observation.state": np.full(6, i, np.float32),
                        "action": np.full(6, -i, np.float32),
                        "observation.images.front": pool["front"][i % 60],
                        "observation.images.wrist": pool["wrist"][i % 60],
                    },
                    task="bench",
                )
            writer.save_episode()


def samples_per_s(ds: BricobotDataset, workers: int, batches: int) -> float:
    loader = torch.utils.data.DataLoader(
        ds, batch_size=8, shuffle=True, num_workers=workers, persistent_workers=False
    )
    it = iter(loader)
    for _ in range(3):  # warm-up: worker start, first file opens, allocator
        next(it)
    t = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        n += len(batch["index"])
    return round(n / (time.perf_counter() - t), 1)


def baselines(root: Path, fps: int) -> dict[str, Any]:
    path = next((root / "videos/observation.images.front").rglob("*.mp4"))
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        t = time.perf_counter()
        n = sum(1 for f in c.decode(s) if f.to_ndarray(format="rgb24") is not None)
        seq = n / (time.perf_counter() - t)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = s.time_base
        assert tb is not None
        rng = random.Random(0)
        t = time.perf_counter()
        for _ in range(100):
            target = rng.randrange(n) / fps
            c.seek(int(target / tb), stream=s, backward=True)
            for f in c.decode(s):
                if f.time is not None and f.time >= target - 1e-4:
                    f.to_ndarray(format="rgb24")
                    break
        seek = 100 / (time.perf_counter() - t)
    return {
        "pyav_sequential_decode_frames_per_s": round(seq, 1),
        "pyav_random_frame_per_s": round(seek, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--root", default="", help="reuse a dataset folder instead of building one")
    args = parser.parse_args()
    fps, h, w = 30, 480, 640
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.root) if args.root else Path(tmp) / "bench"
        if not args.root:
            t = time.perf_counter()
            build(root, args.episodes, int(args.seconds * fps), h, w, fps)
            build_s = time.perf_counter() - t
        else:
            build_s = 0.0
        act = {"action": [i / fps for i in range(100)]}
        diffusion = {
            "observation.images.front": [-1 / fps, 0.0],
            "observation.images.wrist": [-1 / fps, 0.0],
            "observation.state": [-1 / fps, 0.0],
            "action": [i / fps for i in range(-1, 15)],
        }
        results: dict[str, Any] = {}
        t = time.perf_counter()
        BricobotDataset(root, frame_cache=True)
        cache_build_s = time.perf_counter() - t
        for name, deltas in (("act", act), ("diffusion", diffusion)):
            # *_uint8: frames stay uint8 (converted to float on the training device).
            for source in ("video", "video_uint8", "cache", "cache_uint8"):
                ds = BricobotDataset(
                    root,
                    delta_timestamps=deltas,
                    frame_cache=source.startswith("cache"),
                    uint8_images=source.endswith("uint8"),
                )
                for workers in (0, 2):
                    batches = args.batches if source.startswith("video") else args.batches * 4
                    results[f"{name}/{source}/workers={workers}"] = samples_per_s(
                        ds, workers, batches
                    )
        out = {
            "bench": "dataset_read",
            "cameras": 2,
            "resolution": [h, w],
            "batch_size": 8,
            "frames": int(args.episodes * args.seconds * fps),
            "build_dataset_s": round(build_s, 1),
            "build_frame_cache_s": round(cache_build_s, 1),
            "samples_per_s": results,
            "baseline": baselines(root, fps),
            "torch_threads": torch.get_num_threads(),
        }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
