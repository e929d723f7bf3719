"""Resizing camera frames to a model's input size: scale to cover, keep the aspect ratio, crop center.

One implementation serves every path that turns a camera frame into a policy input (the training
data loader, the on-disk frame cache, live observations), so a policy sees the same pixels in
training and on the robot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cover_size(src_hw: Sequence[int], dst_hw: Sequence[int]) -> tuple[int, int]:
    """The size ``(h, w)`` that keeps ``src_hw``'s aspect ratio and just covers ``dst_hw``."""
    scale = max(dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1])
    return max(int(dst_hw[0]), round(src_hw[0] * scale)), max(
        int(dst_hw[1]), round(src_hw[1] * scale)
    )


def center_crop_box(src_hw: Sequence[int], dst_hw: Sequence[int]) -> tuple[int, int]:
    """Top-left corner ``(y, x)`` of a centered ``dst_hw`` window inside ``src_hw``."""
    return (int(src_hw[0]) - int(dst_hw[0])) // 2, (int(src_hw[1]) - int(dst_hw[1])) // 2


def fit_frame(image: np.ndarray, size_hw: Sequence[int] | None) -> np.ndarray:
    """uint8 ``(H, W, 3)`` → uint8 ``(h, w, 3)``: scale to cover ``size_hw`` (aspect kept), crop center.

    ``size_hw`` empty or equal to the frame's size returns the frame unchanged.
    """
    if not size_hw or tuple(image.shape[:2]) == (int(size_hw[0]), int(size_hw[1])):
        return image
    import cv2

    h, w = int(size_hw[0]), int(size_hw[1])
    ch, cw = cover_size(image.shape[:2], (h, w))
    shrinking = ch * cw < image.shape[0] * image.shape[1]
    scaled = cv2.resize(
        image, (cw, ch), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    y, x = center_crop_box((ch, cw), (h, w))
    return np.ascontiguousarray(scaled[y : y + h, x : x + w])


def fit_frames(frames: np.ndarray, size_hw: Sequence[int] | None) -> np.ndarray:
    """:func:`fit_frame` over a stack ``(T, H, W, 3)`` → ``(T, h, w, 3)``."""
    if not size_hw or tuple(frames.shape[1:3]) == (int(size_hw[0]), int(size_hw[1])):
        return frames
    return np.stack([fit_frame(f, size_hw) for f in frames])
