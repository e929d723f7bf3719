"""A small recorded dataset on disk (real DatasetWriter, synthetic frames) for train/eval CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def write_dataset(
    root: Path,
    episodes: int = 3,
    length: int = 24,
    image_hw: tuple[int, int] = (32, 32),
    seed: int = 0,
) -> Path:
    joints = {f"{j}.pos": float for j in JOINTS}
    features = features_from_robot(
        {**joints, "front": (*image_hw, 3)}, joints, use_videos=False, timing=False
    )
    rng = np.random.default_rng(seed)
    with DatasetWriter.create(root, fps=30, features=features, robot_type="so101_sim") as writer:
        for _ in range(episodes):
            walk = np.cumsum(rng.normal(size=(length + 1, 6)), 0).astype(np.float32)
            for t in range(length):
                writer.add_frame(
                    {
                        "observation.state": walk[t],
                        "action": walk[t + 1],
                        "observation.images.front": rng.integers(0, 255, (*image_hw, 3), np.uint8),
                    },
                    task="reach",
                )
            writer.save_episode()
    return root
