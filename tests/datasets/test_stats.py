"""Statistics agree with numpy: per episode exactly, aggregated exactly for moments and bounds."""

from __future__ import annotations

import numpy as np

from bricobot.datasets.stats import (
    ImageStatsAccumulator,
    aggregate_stats,
    histogram_stats,
    non_finite_stats,
    numeric_stats,
)


def test_numeric_stats_match_numpy() -> None:
    x = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    s = numeric_stats(x)
    np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-5)
    np.testing.assert_array_equal(s["min"], x.min(0))
    np.testing.assert_allclose(s["q90"], np.quantile(x.astype(np.float64), 0.9, axis=0))
    assert s["count"].tolist() == [200]


def test_aggregate_is_exact_for_moments_and_bounds() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.normal(loc=i, size=(n, 3)) for i, n in enumerate([10, 50, 7])]
    agg = aggregate_stats([{"a": numeric_stats(p)} for p in parts])["a"]
    full = np.concatenate(parts)
    np.testing.assert_allclose(agg["mean"], full.mean(0), rtol=1e-10)
    np.testing.assert_allclose(agg["std"], full.std(0), rtol=1e-10)
    np.testing.assert_array_equal(agg["max"], full.max(0))
    assert agg["count"].tolist() == [67]
    assert np.all(agg["q01"] <= agg["q50"]) and np.all(agg["q50"] <= agg["q99"])


def test_image_stats_per_channel_in_unit_range() -> None:
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(5)]
    acc = ImageStatsAccumulator(target_pixels=10**9)  # every pixel: compare exactly with numpy
    for f in frames:
        acc.add(f)
    s = acc.result()
    pixels = np.stack(frames).reshape(-1, 3) / 255.0
    assert s["mean"].shape == (3, 1, 1)
    np.testing.assert_allclose(s["mean"].ravel(), pixels.mean(0), rtol=1e-10)
    np.testing.assert_allclose(s["std"].ravel(), pixels.std(0), rtol=1e-10)
    np.testing.assert_array_equal(s["min"].ravel(), pixels.min(0))
    np.testing.assert_allclose(
        s["q50"].ravel(), np.quantile(pixels, 0.5, axis=0, method="inverted_cdf")
    )
    assert s["count"].tolist() == [5]


def test_subsampled_image_stats_stay_close() -> None:
    yy, xx = np.mgrid[0:480, 0:640]
    img = np.stack([xx * 255 // 639, yy * 255 // 479, (xx + yy) % 256], -1).astype(np.uint8)
    acc = ImageStatsAccumulator()  # about 20k pixels of the 307k
    acc.add(img)
    full = histogram_stats(
        np.stack([np.bincount(img[..., c].ravel(), minlength=256) for c in range(3)]), 1
    )
    np.testing.assert_allclose(acc.result()["mean"], full["mean"], atol=0.01)


def test_non_finite_stats_are_named() -> None:
    assert non_finite_stats({"a": {"mean": np.array([1.0, np.nan])}}) == ["a/mean"]


def test_image_min_max_are_exact_even_for_a_single_bright_pixel() -> None:
    from bricobot.datasets.stats import ImageStatsAccumulator

    acc = ImageStatsAccumulator(target_pixels=100)  # a coarse subsample would miss one pixel
    image = np.full((480, 640, 3), 60, np.uint8)
    image[123, 457] = (238, 10, 200)
    acc.add(image)
    stats = acc.result()
    np.testing.assert_allclose(stats["max"].reshape(3), np.array([238, 60, 200]) / 255)
    np.testing.assert_allclose(stats["min"].reshape(3), np.array([60, 10, 60]) / 255)


def test_missing_stats_are_computed_once_and_committed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from bricobot.datasets.metadata import DatasetMeta
    from bricobot.datasets.stats_file import training_stats
    from tests.fakes.policy_dataset import write_dataset

    root = write_dataset(tmp_path / "ds", episodes=2, length=8)
    original = json.loads((root / "meta/stats.json").read_text())
    broken = dict(original)
    del broken["action"]
    broken["observation.state"] = {**original["observation.state"], "mean": [float("nan")] * 6}
    (root / "meta/stats.json").write_text(json.dumps(broken))
    keys = ["observation.state", "action", "observation.images.front"]
    stats = training_stats(DatasetMeta.load(root), keys, progress=False)
    for key in ("observation.state", "action"):
        np.testing.assert_allclose(stats[key]["mean"], original[key]["mean"], rtol=1e-6)
        np.testing.assert_allclose(stats[key]["std"], original[key]["std"], rtol=1e-6)
    committed = json.loads((root / "meta/stats.json").read_text())
    assert "action" in committed and np.isfinite(committed["observation.state"]["mean"]).all()
    # The next run reads the file as it is: no recomputation.
    assert DatasetMeta.load(root).stats["action"]["mean"].tolist() == committed["action"]["mean"]
