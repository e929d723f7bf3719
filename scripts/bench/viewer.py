"""How fast ``bricobot view`` loads a large dataset's episode index (target: under 2 s on 2 cores).

Generates (once; reused if ``--root`` already holds it) a dataset of 500 episodes with tiny frames,
two cameras stored as video and the timing columns, through the real DatasetWriter. Then starts the
viewer's server and measures over HTTP: the first ``/api/index`` (cold: reads the episodes metadata),
the following ones (warm), and one episode's JSON. The baseline in the same run is
``DatasetMeta.load`` alone, the floor any index must pay. Prints JSON.

    python scripts/bench/viewer.py                          # 500 episodes in a temporary folder
    python scripts/bench/viewer.py --root /tmp/view500      # keep the dataset for the next run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def generate(root: Path, episodes: int, length: int, codec: str, seed: int = 0) -> float:
    """Write the dataset; returns seconds taken. Loop timing gets a little jitter per frame."""
    from bricobot.datasets.schema import features_from_robot
    from bricobot.datasets.writer import DatasetWriter

    rng = np.random.default_rng(seed)
    cams = {"front": (16, 16, 3), "wrist": (16, 16, 3)}
    joints = {f"{j}.pos": float for j in JOINTS}
    features = features_from_robot({**joints, **cams}, joints, use_videos=True, timing=True)
    t0 = time.perf_counter()
    with DatasetWriter.create(root, 30, features, "so101_sim", codec=codec) as writer:
        clock = 0.0
        for ep in range(episodes):
            walk = np.cumsum(rng.normal(size=(length + 1, 6)), 0).astype(np.float32)
            for t in range(length):
                clock += 1 / 30 + rng.normal(0, 0.002)
                frame: dict[str, Any] = {"observation.state": walk[t], "action": walk[t + 1]}
                frame["timing.time_s"] = clock
                frame["timing.state_capture_time_s"] = clock - 0.003
                for cam in cams:
                    frame[f"observation.images.{cam}"] = np.full(
                        (16, 16, 3), (t * 3) % 255, np.uint8
                    )
                    frame[f"timing.capture_time_s.{cam}"] = clock - 0.01
                writer.add_frame(frame, task=f"task {ep % 3}")
            writer.save_episode()
    return time.perf_counter() - t0


def fetch(url: str) -> tuple[float, int]:
    """Seconds to fetch and parse ``url`` as JSON, and the body's size in bytes."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    json.loads(body)
    return time.perf_counter() - t0, len(body)


def measure(root: Path, repeat: int) -> dict[str, Any]:
    from bricobot.datasets.metadata import DatasetMeta
    from bricobot.viewer.server import ViewerServer

    t0 = time.perf_counter()
    meta = DatasetMeta.load(root)
    baseline_s = time.perf_counter() - t0
    server = ViewerServer(root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cold_s, size = fetch(server.url + "api/index")
        warm = [fetch(server.url + "api/index")[0] for _ in range(repeat)]
        episode_s, episode_bytes = fetch(server.url + f"api/episode/{meta.total_episodes // 2}")
    finally:
        server.shutdown()
        server.server_close()
    return {
        "episodes": meta.total_episodes,
        "frames": meta.total_frames,
        "baseline_metadata_load_s": round(baseline_s, 3),
        "index_cold_s": round(cold_s, 3),
        "index_warm_median_s": round(statistics.median(warm), 3),
        "index_bytes": size,
        "episode_json_s": round(episode_s, 3),
        "episode_json_bytes": episode_bytes,
        "target_index_s": 2.0,
        "within_target": cold_s < 2.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, help="dataset folder (generated if missing)")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--length", type=int, default=30, help="frames per episode")
    parser.add_argument("--codec", default="libsvtav1")
    parser.add_argument("--repeat", type=int, default=5, help="warm index requests to time")
    parser.add_argument("--cores", type=int, default=2, help="CPUs this process may use")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / "view500"
        generate_s = None
        if not (root / "meta" / "info.json").is_file():
            generate_s = round(generate(root, args.episodes, args.length, args.codec), 1)
        report = {
            "benchmark": "viewer_index",
            "root": str(root),
            "cpus": len(os.sched_getaffinity(0)),
        }
        report.update(measure(root, args.repeat))
        report["generate_s"] = generate_s
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
