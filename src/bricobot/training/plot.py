"""Loss curves as a PNG, drawn with OpenCV (no plotting library needed).

Reads ``metrics.jsonl`` (training ``loss`` records and ``val_loss`` records) and draws both on a
log-scaled y axis with step on the x axis.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 800, 480
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 80, 20, 40, 50
TRAIN_COLOR = (200, 90, 30)  # BGR: blue
VAL_COLOR = (40, 40, 220)  # BGR: red


def read_curves(metrics_path: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    train: list[tuple[int, float]] = []
    val: list[tuple[int, float]] = []
    if not metrics_path.is_file():
        return train, val
    for line in metrics_path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in rec and "step" in rec:
            train.append((int(rec["step"]), float(rec["loss"])))
        if "val_loss" in rec:
            val.append((int(rec["step"]), float(rec["val_loss"])))
    return train, val


def plot_loss_curves(metrics_path: Path, png_path: Path) -> Path | None:
    """Draw the train/validation loss curves; returns the PNG path, or None without data."""
    train, val = read_curves(metrics_path)
    points = [p for p in train + val if p[1] > 0 and math.isfinite(p[1])]
    if not points:
        return None
    img = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    x_max = max(1, max(s for s, _ in points))
    y_lo = math.log10(min(v for _, v in points))
    y_hi = math.log10(max(v for _, v in points))
    if y_hi - y_lo < 1e-6:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    pw, ph = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B

    def to_px(step: int, value: float) -> tuple[int, int]:
        x = MARGIN_L + int(pw * step / x_max)
        y = MARGIN_T + int(ph * (1 - (math.log10(value) - y_lo) / (y_hi - y_lo)))
        return x, y

    cv2.rectangle(img, (MARGIN_L, MARGIN_T), (MARGIN_L + pw, MARGIN_T + ph), (0, 0, 0), 1)
    for i in range(5):
        frac = i / 4
        value = 10 ** (y_lo + frac * (y_hi - y_lo))
        y = MARGIN_T + int(ph * (1 - frac))
        cv2.line(img, (MARGIN_L, y), (MARGIN_L + pw, y), (220, 220, 220), 1)
        cv2.putText(img, f"{value:.3g}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        step = int(frac * x_max)
        x = MARGIN_L + int(pw * frac)
        cv2.putText(
            img, str(step), (x - 15, HEIGHT - 25), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1
        )
    for curve, color in ((train, TRAIN_COLOR), (val, VAL_COLOR)):
        pts = [to_px(s, v) for s, v in curve if v > 0 and math.isfinite(v)]
        if len(pts) == 1:
            cv2.circle(img, pts[0], 3, color, -1)
        elif pts:
            cv2.polylines(img, [np.asarray(pts, np.int32).reshape(-1, 1, 2)], False, color, 2)
    cv2.putText(
        img, "train loss", (MARGIN_L + 10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, TRAIN_COLOR, 2
    )
    cv2.putText(
        img, "validation loss", (MARGIN_L + 140, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, VAL_COLOR, 2
    )
    cv2.putText(img, "step", (WIDTH // 2, HEIGHT - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(png_path), img):
        raise OSError(f"could not write {png_path}")
    return png_path
