"""Training throughput per policy preset: steps/s and the share of each step spent waiting for data.

Runs the real trainer on synthetic in-memory episodes (state, action, one camera) for a few steps
after a warm-up and prints JSON. Full presets (act, diffusion) are GPU presets; on a CPU they run
only a few steps, to report an order of magnitude.

    python scripts/bench/train.py                      # every preset, CPU (or GPU if present)
    python scripts/bench/train.py --presets act_cpu --steps 50 --image 64
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from bricobot.policies.base import FeatureConfig
from bricobot.policies.presets import load_preset
from bricobot.training.config import TrainerConfig
from bricobot.training.data import EpisodeData
from bricobot.training.trainer import train

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
DEFAULT_STEPS = {"act_cpu": 30, "diffusion_cpu": 30, "act": 3, "diffusion": 3}
DEFAULT_IMAGE = {"act_cpu": 64, "diffusion_cpu": 64, "act": 96, "diffusion": 96}


def synthetic_data(image: int, episodes: int = 8, length: int = 120) -> EpisodeData:
    names = [f"{j}.pos" for j in JOINTS]
    features = {
        "observation.state": FeatureConfig(shape=[6], names=names),
        "observation.images.front": FeatureConfig(shape=[image, image, 3]),
        "action": FeatureConfig(shape=[6], names=names),
    }
    rng = np.random.default_rng(0)
    eps = []
    for _ in range(episodes):
        walk = np.cumsum(rng.normal(size=(length + 1, 6)), 0).astype(np.float32)
        eps.append(
            {
                "observation.state": walk[:-1],
                "action": walk[1:],
                "observation.images.front": rng.integers(
                    0, 255, (length, image, image, 3), np.uint8
                ),
            }
        )
    return EpisodeData.from_episodes(eps, features, fps=30)


def bench(preset: str, steps: int, image: int, device: str) -> dict[str, object]:
    cfg = load_preset(preset)
    data = synthetic_data(image)
    with tempfile.TemporaryDirectory() as tmp:
        warm = TrainerConfig(
            steps=2, log_every=0, val_every=0, save_every=0, progress=False, device=device
        )
        train(cfg, data, warm, Path(tmp) / "warm")
        run = TrainerConfig(
            steps=steps, log_every=0, val_every=0, save_every=0, progress=False, device=device
        )
        result = train(cfg, data, run, Path(tmp) / "run")
    return {
        "preset": preset,
        "device": device,
        "image": [image, image],
        "batch_size": cfg.batch_size,
        "steps": steps,
        "steps_per_s": round(result.steps_per_s, 3),
        "samples_per_s": round(result.steps_per_s * cfg.batch_size, 1),
        "data_wait_share": round(result.data_wait_share, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", nargs="*", default=list(DEFAULT_STEPS))
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per preset (default per preset)"
    )
    parser.add_argument(
        "--image", type=int, default=None, help="square image size (default per preset)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    results = [
        bench(
            p,
            args.steps or DEFAULT_STEPS.get(p, 10),
            args.image or DEFAULT_IMAGE.get(p, 64),
            args.device,
        )
        for p in args.presets
    ]
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    print(json.dumps({"benchmark": "train", "env": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()
