"""A small recorded dataset on disk (real DatasetWriter, synthetic frames) for train/eval CLI tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    use_videos: bool = False,
    cameras: tuple[str, ...] = ("front",),
) -> Path:
    """Episodes of a smooth random walk (state → next state as action) with noise images."""
    joints = {f"{j}.pos": float for j in JOINTS}
    cams = {c: (*image_hw, 3) for c in cameras}
    features = features_from_robot({**joints, **cams}, joints, use_videos=use_videos, timing=False)
    rng = np.random.default_rng(seed)
    with DatasetWriter.create(
        root, fps=30, features=features, robot_type="so101_sim", use_videos=use_videos
    ) as writer:
        for _ in range(episodes):
            walk = np.cumsum(rng.normal(size=(length + 1, 6)), 0).astype(np.float32)
            for t in range(length):
                frame: dict[str, Any] = {"observation.state": walk[t], "action": walk[t + 1]}
                for cam in cameras:
                    frame[f"observation.images.{cam}"] = rng.integers(
                        0, 255, (*image_hw, 3), np.uint8
                    )
                writer.add_frame(frame, task="reach")
            writer.save_episode()
    return root


def training_data(
    root: Path, config: Any, val_fraction: float = 0.1, seed: int = 1000, **data: Any
) -> Any:
    """Open ``root`` for ``config`` through the training data path (no workers unless asked)."""
    from bricobot.training.data import DataConfig, open_training_data

    data.setdefault("num_workers", 0)
    return open_training_data(DataConfig(root=str(root), **data), config, val_fraction, seed, False)
