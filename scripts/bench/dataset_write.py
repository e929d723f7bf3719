"""Benchmark: what recording costs the control loop, and whether video encoding keeps up.

Records episodes of two 640×480 cameras at 30 fps in real time (frames paced on absolute
deadlines), timing every ``add_frame`` call, then ``save_episode`` (which waits for the encoders to
drain). Baseline in the same run: a plain ``np.copy`` of the two frames. Prints JSON.

    python scripts/bench/dataset_write.py --seconds 10 --codec libsvtav1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def synthetic_frames(n: int, h: int, w: int, seed: int) -> list[np.ndarray]:
    """Moving gradients with sensor-like noise: compresses like a real scene, not like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.int16)
    frames = []
    for i in range(n):
        img = np.roll(base, 4 * i, axis=1) + rng.integers(-6, 7, base.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def percentile_ms(x: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(x) * 1e3, q)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--codec", default="libsvtav1")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    h, w, fps = args.height, args.width, args.fps
    n = int(args.seconds * fps)
    pool = {cam: synthetic_frames(60, h, w, seed) for seed, cam in enumerate(("front", "wrist"))}
    obs = {f"{j}.pos": float for j in JOINTS} | {"front": (h, w, 3), "wrist": (h, w, 3)}
    features = features_from_robot(obs, {f"{j}.pos": float for j in JOINTS})

    copy_s = []
    for i in range(n):
        t = time.perf_counter()
        np.copy(pool["front"][i % 60])
        np.copy(pool["wrist"][i % 60])
        copy_s.append(time.perf_counter() - t)

    add_s: list[float] = []
    save_s: list[float] = []
    late_ticks = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        writer = DatasetWriter.create(root, fps, features, "bench_arm", codec=args.codec)
        codec = writer.info["features"]["observation.images.front"]["info"]["video.codec"]
        for _e in range(args.episodes):
            start = time.monotonic()
            for i in range(n):
                deadline = start + i / fps
                now = time.monotonic()
                if now < deadline:
                    time.sleep(deadline - now)
                elif now - deadline > 1 / fps:
                    late_ticks += 1
                t_tick = time.monotonic()
                frame = {
                    "observation.state": np.full(6, i, np.float32),
                    "action": np.full(6, -i, np.float32),
                    "observation.images.front": pool["front"][i % 60],
                    "observation.images.wrist": pool["wrist"][i % 60],
                    "timing.time_s": t_tick,
                    "timing.state_capture_time_s": t_tick,
                    "timing.capture_time_s.front": t_tick,
                    "timing.capture_time_s.wrist": t_tick,
                }
                t = time.perf_counter()
                writer.add_frame(frame, task="bench")
                add_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            writer.save_episode()
            save_s.append(time.perf_counter() - t)
        stalls = sum(enc.stalls for enc in writer._encoders.values())
        writer.close()
        size_mb = sum(p.stat().st_size for p in (root / "videos").rglob("*.mp4")) / 1e6
    episode_s = n / fps
    result = {
        "bench": "dataset_write",
        "cameras": 2,
        "resolution": [h, w],
        "fps": fps,
        "frames_per_episode": n,
        "episodes": args.episodes,
        "codec": codec,
        "add_frame_ms": {
            "mean": round(float(np.mean(add_s)) * 1e3, 3),
            "p50": percentile_ms(add_s, 50),
            "p99": percentile_ms(add_s, 99),
            "max": percentile_ms(add_s, 100),
        },
        "baseline_np_copy_two_frames_ms": {
            "mean": round(float(np.mean(copy_s)) * 1e3, 3),
            "p99": percentile_ms(copy_s, 99),
        },
        "save_episode_s": [round(s, 3) for s in save_s],
        # Encoding keeps up when the encoders never filled their ring (no wait in add_frame) and
        # finish shortly after the last frame (save time small against the episode length).
        "encoder_ring_full_waits": stalls,
        "encode_realtime_factor": round(episode_s / (episode_s + float(np.mean(save_s))), 3),
        "encoding_keeps_up": bool(stalls == 0 and max(save_s) < 0.25 * episode_s),
        "late_loop_ticks": late_ticks,
        "video_mb_per_camera_minute": round(size_mb / 2 / (args.episodes * episode_s / 60), 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
