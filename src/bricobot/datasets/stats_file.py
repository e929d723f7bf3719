"""The normalization statistics a training run reads: ``meta/stats.json``, written at record time.

:func:`training_stats` returns the dataset's own statistics for the features a policy uses. Only a
dataset whose ``stats.json`` is missing or unusable for those features (a v2.1 dataset without
stats, a file edited by hand, NaNs) gets them computed, once, by streaming every frame (no episode's
video is ever held in memory; image min/max exact), and committed back to ``meta/stats.json``
atomically, so the next run reads them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from bricobot.datasets import layout
from bricobot.datasets.files import atomic_write_json
from bricobot.datasets.metadata import DatasetMeta, column_array, read_parquet
from bricobot.datasets.stats import (
    ImageStatsAccumulator,
    Stats,
    numeric_stats,
    stats_from_json,
    stats_to_json,
)

log = logging.getLogger(__name__)

#: Statistics every normalization mode may need.
REQUIRED = ("mean", "std", "min", "max")


def stats_problem(meta: DatasetMeta, key: str) -> str | None:
    """Why ``meta.stats`` cannot normalize feature ``key`` (None when it can)."""
    stats = meta.stats.get(key)
    if stats is None:
        return "missing"
    image = key in meta.camera_keys
    width = 3 if image else int(np.prod(meta.features[key]["shape"]))
    for name in REQUIRED:
        if name not in stats:
            return f"no {name!r}"
        value = np.asarray(stats[name], dtype=np.float64)
        if value.size != width:
            return f"{name!r} has {value.size} values, the feature has {width}"
        if not np.all(np.isfinite(value)):
            return f"{name!r} is not finite"
    return None


def training_stats(
    meta: DatasetMeta, keys: Sequence[str], progress: bool = True
) -> dict[str, Stats]:
    """Statistics of ``keys`` from ``meta/stats.json``; missing or unusable ones are computed by
    streaming the dataset and committed back to the file first."""
    problems = {k: p for k in keys if (p := stats_problem(meta, k)) is not None}
    if problems:
        listed = ", ".join(f"{k} ({p})" for k, p in problems.items())
        log.warning(
            "%s: stats.json cannot normalize %s; computing them from the data once",
            meta.root,
            listed,
        )
        computed = compute_stats(meta, list(problems), progress)
        merged = {**meta.stats, **computed}
        atomic_write_json(meta.root / layout.STATS_PATH, stats_to_json(merged))
        meta.stats = stats_from_json(stats_to_json(merged))
    return {k: meta.stats[k] for k in keys}


def compute_stats(
    meta: DatasetMeta, keys: Sequence[str], progress: bool = True
) -> dict[str, Stats]:
    """Statistics of ``keys`` over every frame of ``meta``'s dataset, streamed episode by episode."""
    numeric = [k for k in keys if k not in meta.camera_keys]
    cameras = [k for k in keys if k in meta.camera_keys]
    out: dict[str, Stats] = {}
    if numeric:
        columns: dict[str, list[np.ndarray]] = {k: [] for k in numeric}
        for path in sorted({meta.data_path(i) for i in range(meta.total_episodes)}):
            table = read_parquet(path, meta.root, columns=numeric)
            for key in numeric:
                columns[key].append(column_array(table.column(key)))
        for key in numeric:
            out[key] = numeric_stats(np.concatenate(columns[key]))
    for key in cameras:
        out[key] = _image_stats(meta, key, progress)
    return out


def _image_stats(meta: DatasetMeta, key: str, progress: bool) -> Stats:
    from tqdm import tqdm

    from bricobot.datasets.frames import episode_frames

    acc = ImageStatsAccumulator()
    bar = tqdm(
        total=meta.total_frames, desc=f"statistics of {key}", unit="frame", disable=not progress
    )
    for ep_idx in range(meta.total_episodes):
        for image in episode_frames(meta, ep_idx, key):
            acc.add(image)
            bar.update(1)
    bar.close()
    return acc.result()
