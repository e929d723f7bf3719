"""Synthetic recordings for dataset tests: a fake robot's features and frames whose content encodes
their episode and frame index, so a reader returning a shifted or wrong frame is caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bricobot.datasets.schema import features_from_robot

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
CAMERAS = ("front", "wrist")
FPS = 30


def robot_features(
    hw: tuple[int, int] = (48, 64), cameras: tuple[str, ...] = CAMERAS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(observation_features, action_features) as a Robot declares them."""
    obs: dict[str, Any] = {f"{j}.pos": float for j in JOINTS}
    obs.update({cam: (hw[0], hw[1], 3) for cam in cameras})
    return obs, {f"{j}.pos": float for j in JOINTS}


def make_features(
    hw: tuple[int, int] = (48, 64), cameras: tuple[str, ...] = CAMERAS, timing: bool = True
) -> dict[str, dict[str, Any]]:
    obs, act = robot_features(hw, cameras)
    return features_from_robot(obs, act, timing=timing)


def state_value(episode: int, frame: int) -> np.ndarray:
    return (np.arange(6) + 100.0 * episode + frame).astype(np.float32)


def image_value(episode: int, frame: int, cam_index: int) -> int:
    """Flat grey level of a frame: distinct per frame so decoding the wrong frame shows."""
    return (40 * episode + 7 * frame + 90 * cam_index) % 200 + 20


def make_frame(
    features: dict[str, dict[str, Any]], episode: int, frame: int, t0: float = 1000.0
) -> dict[str, Any]:
    """A frame for ``features`` (any cameras, timing optional), paced exactly at FPS."""
    out: dict[str, Any] = {}
    t = t0 + frame / FPS
    for key, spec in features.items():
        if key == "observation.state":
            out[key] = state_value(episode, frame)
        elif key == "action":
            out[key] = -state_value(episode, frame)
        elif key.startswith("observation.images."):
            cams = [k for k in features if k.startswith("observation.images.")]
            h, w, _ = spec["shape"]
            out[key] = np.full((h, w, 3), image_value(episode, frame, cams.index(key)), np.uint8)
        elif key == "timing.time_s":
            out[key] = t
        elif key.startswith("timing."):
            out[key] = t - 0.005
    return out


def write_dataset(
    root: Path,
    lengths: list[int],
    features: dict[str, dict[str, Any]] | None = None,
    codec: str = "libx264",
    use_videos: bool = True,
    tasks: list[str] | None = None,
) -> Path:
    """Record ``len(lengths)`` episodes with the real writer; returns ``root``."""
    from bricobot.datasets.writer import DatasetWriter

    features = features or make_features()
    with DatasetWriter.create(
        root, FPS, features, "fake_arm", use_videos=use_videos, codec=codec
    ) as writer:
        for e, n in enumerate(lengths):
            for i in range(n):
                task = (tasks or ["pick the cube"])[e % len(tasks or ["x"])]
                writer.add_frame(make_frame(features, e, i), task=task)
            writer.save_episode()
    return root
