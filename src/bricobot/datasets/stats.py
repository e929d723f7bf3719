"""Feature statistics: per episode, and aggregated over a dataset.

Each feature gets ``min, max, mean, std, count`` and the quantiles ``q01, q10, q50, q90, q99``, as
arrays shaped like the feature (vectors: (n,); scalars: (1,)). Camera features get one value per
channel, shape (3, 1, 1), in [0, 1]. Image statistics are computed from a 256-bin histogram per
channel over subsampled pixels of every frame, accumulated as the frames stream through the encoder,
so no episode's video is ever held in memory; min and max are exact (every pixel of every frame), the
other statistics are exact for the sampled pixels.

Aggregation is exact for min, max, mean, std and count; quantiles of a dataset are the
count-weighted mean of the episodes' quantiles (as in LeRobot), an approximation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

QUANTILES: dict[str, float] = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_NAMES = ("min", "max", "mean", "std", "count", *QUANTILES)

Stats = dict[str, np.ndarray]


def numeric_stats(values: np.ndarray) -> Stats:
    """Statistics of ``values`` (N, d) (or (N,)) over the N frames; each result has shape (d,)."""
    x = np.asarray(values, dtype=np.float64)
    x = x.reshape(len(x), -1)  # (N, d)
    if len(x) == 0:
        raise ValueError("cannot compute statistics of zero frames")
    out: Stats = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x)], dtype=np.int64),
    }
    qs = np.quantile(x, list(QUANTILES.values()), axis=0)  # (5, d)
    for name, q in zip(QUANTILES, qs, strict=True):
        out[name] = q
    return out


class ImageStatsAccumulator:
    """Streams uint8 (H, W, 3) frames into per-channel histograms of subsampled pixels."""

    def __init__(self, target_pixels: int = 20_000) -> None:
        self.target_pixels = target_pixels
        self.hist = np.zeros((3, 256), dtype=np.int64)
        #: Exact per-channel extremes over every pixel (a subsample misses small bright objects).
        self.lo = np.full(3, 255, dtype=np.int64)
        self.hi = np.zeros(3, dtype=np.int64)
        self.frames = 0

    def add(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        stride = max(1, int(np.sqrt(h * w / self.target_pixels)))
        sub = image[::stride, ::stride].reshape(-1, 3)  # (P, 3)
        for c in range(3):
            self.hist[c] += np.bincount(sub[:, c], minlength=256)
        pixels = image.reshape(-1, 3)  # (H*W, 3)
        self.lo = np.minimum(self.lo, pixels.min(axis=0))
        self.hi = np.maximum(self.hi, pixels.max(axis=0))
        self.frames += 1

    def result(self) -> Stats:
        return histogram_stats(self.hist, self.frames, self.lo, self.hi)


def histogram_stats(
    hist: np.ndarray,
    frames: int,
    exact_min: np.ndarray | None = None,
    exact_max: np.ndarray | None = None,
) -> Stats:
    """Per-channel stats in [0, 1], shape (3, 1, 1), from uint8 histograms ``hist`` (3, 256).

    ``exact_min``/``exact_max`` (3,) uint8 levels over every pixel replace the histogram's extremes.
    """
    hist = np.asarray(hist, dtype=np.float64)
    levels = np.arange(256) / 255.0
    total = hist.sum(axis=1)  # (3,)
    if np.any(total == 0):
        raise ValueError("cannot compute image statistics of zero frames")
    mean = (hist * levels).sum(axis=1) / total
    var = (hist * (levels - mean[:, None]) ** 2).sum(axis=1) / total
    cdf = np.cumsum(hist, axis=1) / total[:, None]  # (3, 256)
    nonzero = hist > 0
    out: Stats = {
        "min": levels[nonzero.argmax(axis=1)],
        "max": levels[255 - nonzero[:, ::-1].argmax(axis=1)],
        "mean": mean,
        "std": np.sqrt(var),
    }
    if exact_min is not None and exact_max is not None:
        out["min"] = np.asarray(exact_min, dtype=np.float64) / 255.0
        out["max"] = np.asarray(exact_max, dtype=np.float64) / 255.0
    for name, q in QUANTILES.items():
        out[name] = levels[(cdf >= q).argmax(axis=1)]
    out = {k: v.reshape(3, 1, 1) for k, v in out.items()}
    out["count"] = np.array([frames], dtype=np.int64)
    return out


def aggregate_stats(per_episode: Sequence[Mapping[str, Stats]]) -> dict[str, Stats]:
    """Combine per-episode stats ``[{feature: {stat: array}}]`` into dataset stats."""
    keys: list[str] = []
    for ep in per_episode:
        keys += [k for k in ep if k not in keys]
    out: dict[str, Stats] = {}
    for key in keys:
        parts = [ep[key] for ep in per_episode if key in ep]
        counts = np.array([float(np.asarray(p["count"]).reshape(-1)[0]) for p in parts])
        w = counts / counts.sum()
        shape = np.asarray(parts[0]["mean"]).shape
        w_b = w.reshape(-1, *([1] * len(shape)))  # broadcast over the feature shape
        means = np.stack([np.asarray(p["mean"], dtype=np.float64) for p in parts])
        stds = np.stack([np.asarray(p["std"], dtype=np.float64) for p in parts])
        mean = (w_b * means).sum(axis=0)
        var = (w_b * (stds**2 + (means - mean) ** 2)).sum(axis=0)
        agg: Stats = {
            "min": np.min(np.stack([np.asarray(p["min"]) for p in parts]), axis=0),
            "max": np.max(np.stack([np.asarray(p["max"]) for p in parts]), axis=0),
            "mean": mean,
            "std": np.sqrt(np.maximum(var, 0.0)),
            "count": np.array([int(counts.sum())], dtype=np.int64),
        }
        for q in QUANTILES:
            if all(q in p for p in parts):
                agg[q] = (w_b * np.stack([np.asarray(p[q], dtype=np.float64) for p in parts])).sum(
                    axis=0
                )
        out[key] = agg
    return out


def stats_to_json(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {s: np.asarray(v).tolist() for s, v in st.items()} for k, st in stats.items()}


def stats_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[str, Stats]:
    return {k: {s: np.asarray(v) for s, v in st.items()} for k, st in data.items()}


def flatten_stats(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``{"stats/<feature>/<stat>": nested list}``, the episodes-parquet columns."""
    return {
        f"stats/{k}/{s}": np.asarray(v).tolist() for k, st in stats.items() for s, v in st.items()
    }


def unflatten_stats(row: Mapping[str, Any]) -> dict[str, Stats]:
    """Inverse of :func:`flatten_stats` for one episodes-parquet row (other columns ignored)."""
    out: dict[str, Stats] = {}
    for col, value in row.items():
        if not col.startswith("stats/") or value is None:
            continue
        key, _, stat = col.removeprefix("stats/").rpartition("/")
        out.setdefault(key, {})[stat] = np.asarray(value)
    return out


def non_finite_stats(stats: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``"<feature>/<stat>"`` for every stat holding a NaN or infinity (empty when all finite)."""
    return [
        f"{k}/{s}"
        for k, st in stats.items()
        for s, v in st.items()
        if not np.all(np.isfinite(np.asarray(v, dtype=np.float64)))
    ]
