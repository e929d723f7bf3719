"""Generate a real-size dataset: the sim expert recorded through the real recorder and writer.

Defaults match a typical home dataset: 50 episodes of 20 s at 30 fps from two 480×640 cameras
(``front``, ``wrist``), stored with the recorder's default codec (AV1, keyframe every 2 frames). Each
episode is the PickCube expert on a new seed, run for the full length (it holds the cube after
lifting it), recorded on the simulation's clock by the same code as ``bricobot record``. Prints JSON
with the size on disk and the time it took.

    python scripts/bench/make_dataset.py --root /tmp/real50                       # 50 × 20 s
    python scripts/bench/make_dataset.py --root /tmp/real6 --episodes 6 --seconds 10   # quick
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bricobot.envs.tasks.pick_cube import PickCubeConfig
from bricobot.evaluation.demo import record_demos


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True, help="new dataset folder")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each episode")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--codec", default="libsvtav1")
    args = parser.parse_args()
    fps = 30
    env = PickCubeConfig(
        image_height=args.height,
        image_width=args.width,
        control_hz=fps,
        episode_length=round(args.seconds * fps),
    )
    t0 = time.perf_counter()
    saved, failed = record_demos(
        env, args.root, args.episodes, 0, "pick up the cube", args.codec, steps_after_success=10**9
    )
    report = {
        "benchmark": "make_dataset",
        "root": str(args.root),
        "episodes": saved,
        "expert_failures_discarded": failed,
        "frames": saved * round(args.seconds * fps),
        "cameras": {"front": [args.height, args.width], "wrist": [args.height, args.width]},
        "codec": args.codec,
        "bytes_on_disk": folder_bytes(args.root),
        "decoded_bytes": saved * round(args.seconds * fps) * 2 * args.height * args.width * 3,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
