"""Load a recorded dataset (LeRobotDataset v3.0/v2.1 folder) into :class:`EpisodeData`.

Every video is decoded once, up front, into memory; small-image datasets such as the demo's fit
easily (100 episodes × 250 frames × 64×64×3 bytes ≈ 300 MB) and training then never waits on a
decoder. Numeric columns come straight from the parquet files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from bricobot.datasets.frames import episode_frames
from bricobot.datasets.metadata import DatasetMeta, read_parquet
from bricobot.policies.base import ACTION_KEY, STATE_KEY, FeatureConfig, is_image_feature
from bricobot.training.data import EpisodeData


def dataset_features(meta: DatasetMeta) -> dict[str, FeatureConfig]:
    """The policy-relevant features of a dataset (state, action, cameras) as FeatureConfig."""
    out: dict[str, FeatureConfig] = {}
    for key, spec in meta.features.items():
        if key in (STATE_KEY, ACTION_KEY):
            names = spec.get("names") or []
            if isinstance(names, dict):  # LeRobot v2 style {"motors": [...]}
                names = next(iter(names.values()), [])
            out[key] = FeatureConfig(shape=[int(s) for s in spec["shape"]], names=list(names))
        elif is_image_feature(key):
            out[key] = FeatureConfig(shape=[int(s) for s in spec["shape"]])
    return out


def load_episode_data(
    root: str | Path,
    cameras: Sequence[str] | None = None,
    episodes: Sequence[int] | None = None,
    progress: bool = True,
) -> EpisodeData:
    """Read the state, action and camera frames of ``episodes`` (all by default) into memory.

    ``cameras`` limits which ``observation.images.<camera>`` are decoded (all by default).
    """
    meta = DatasetMeta.load(root)
    features = dataset_features(meta)
    if cameras:
        wanted = {f"observation.images.{c}" for c in cameras}
        missing = sorted(wanted - set(features))
        if missing:
            have = [k for k in features if is_image_feature(k)]
            raise KeyError(f"dataset {meta.root} has no {missing}; its cameras: {have}")
        features = {k: v for k, v in features.items() if not is_image_feature(k) or k in wanted}
    numeric = [k for k in features if not is_image_feature(k)]
    image_keys = [k for k in features if is_image_feature(k)]
    chosen = list(range(meta.total_episodes)) if episodes is None else list(episodes)
    loaded = []
    tables: dict[Path, pa.Table] = {}
    for ep_idx in tqdm(chosen, desc="load dataset", disable=not progress, leave=False):
        path = meta.data_path(ep_idx)
        if path not in tables:
            tables = {
                path: read_parquet(
                    path, meta.root, columns=[*numeric, "episode_index", "frame_index"]
                )
            }
        table = tables[path]
        rows = np.flatnonzero(table.column("episode_index").to_numpy() == ep_idx)
        order = np.argsort(table.column("frame_index").to_numpy()[rows])
        sub = table.take(pa.array(rows[order]))
        episode: dict[str, np.ndarray] = {}
        for key in numeric:
            arr = sub.column(key).combine_chunks()
            values = arr.flatten().to_numpy(zero_copy_only=False)
            episode[key] = values.reshape(len(arr), -1).astype(np.float32)
        for key in image_keys:
            episode[key] = np.stack(list(episode_frames(meta, ep_idx, key)))  # (T, H, W, 3)
            if len(episode[key]) != len(rows):
                raise ValueError(
                    f"{meta.root}: episode {ep_idx} has {len(rows)} rows but {len(episode[key])} "
                    f"frames of {key}; run `bricobot dataset validate`"
                )
        loaded.append(episode)
    return EpisodeData.from_episodes(loaded, features, fps=float(meta.fps))
