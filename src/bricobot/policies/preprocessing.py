"""Image preprocessing that belongs to a policy: input resolution, crop, train-time augmentation.

The settings live in the policy config (``image_size``, ``crop_shape``, ``random_shift_px``,
``color_jitter``), so they travel inside the checkpoint and every consumer applies the same steps:

1. **Resize** (``image_size = [H, W]``): a camera frame is scaled to cover ``H × W`` with its aspect
   ratio kept, then center-cropped to exactly ``H × W``. :func:`bricobot.cameras.resize.fit_frame`
   does this on uint8 frames
   with OpenCV's area filter; training data (DataLoader workers, the on-disk frame cache) and live
   observations (:func:`bricobot.policies.base.observation_to_batch`) all go through it, so a policy
   trained at 240×320 from a 480×640 dataset sees the same pixels on the 480×640 arm.
2. **Crop** (``crop_shape = [h, w]``, Diffusion Policy): random per sample while training, centered
   at inference.
3. **Augmentation** while training only (ACT, off by default): random shift by up to
   ``random_shift_px`` pixels (edge padding) and colour jitter (brightness, contrast, saturation).

Steps 2–3 run on the policy's device, on float images ``(N, 3, H, W)`` in [0, 1], inside
:func:`prepare_images`, which also turns uint8 batches (as the data loader delivers them) into floats.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bricobot.cameras.resize import center_crop_box, cover_size


def stored_image_hw(config: Any, key: str) -> tuple[int, int]:
    """Size at which the data path delivers camera ``key`` (``image_size``, else the camera's)."""
    if config.image_size:
        return int(config.image_size[0]), int(config.image_size[1])
    shape = config.input_features[key].shape
    return int(shape[0]), int(shape[1])


def model_image_hw(config: Any, key: str) -> tuple[int, int]:
    """Size of camera ``key`` as the vision backbone sees it (after the crop, if any)."""
    if config.crop_shape:
        return int(config.crop_shape[0]), int(config.crop_shape[1])
    return stored_image_hw(config, key)


def resize_tensor(x: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """Float ``(N, 3, H, W)`` → ``(N, 3, h, w)`` with ``fit_frame``'s geometry (for inputs that
    did not come through the data path or :func:`observation_to_batch`)."""
    ch, cw = cover_size(x.shape[-2:], size_hw)
    x = F.interpolate(x, size=(ch, cw), mode="bilinear", align_corners=False, antialias=True)
    y0, x0 = center_crop_box((ch, cw), size_hw)
    return x[..., y0 : y0 + size_hw[0], x0 : x0 + size_hw[1]]


def random_crop(x: Tensor, size_hw: tuple[int, int], generator: torch.Generator | None) -> Tensor:
    """A random ``size_hw`` window per sample of ``(N, C, H, W)`` (gathered, no Python loop)."""
    n, _, h, w = x.shape
    ch, cw = size_hw
    ys = torch.randint(0, h - ch + 1, (n,), generator=generator).to(x.device)  # (N,)
    xs = torch.randint(0, w - cw + 1, (n,), generator=generator).to(x.device)  # (N,)
    rows = ys[:, None] + torch.arange(ch, device=x.device)[None]  # (N, ch)
    cols = xs[:, None] + torch.arange(cw, device=x.device)[None]  # (N, cw)
    idx_n = torch.arange(n, device=x.device)[:, None, None]  # (N, 1, 1)
    out = x.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # (N, ch, cw, C)
    return out.permute(0, 3, 1, 2)


def crop(
    x: Tensor, size_hw: tuple[int, int], training: bool, generator: torch.Generator | None
) -> Tensor:
    """Random crop while training, center crop otherwise; ``(N, C, H, W)`` → ``(N, C, h, w)``."""
    if tuple(x.shape[-2:]) == tuple(size_hw):
        return x
    if training:
        return random_crop(x, size_hw, generator)
    y0, x0 = center_crop_box(x.shape[-2:], size_hw)
    return x[..., y0 : y0 + size_hw[0], x0 : x0 + size_hw[1]]


def random_shift(x: Tensor, pad_px: int, generator: torch.Generator | None) -> Tensor:
    """Shift each image by up to ``pad_px`` pixels, filling with the edge (DrQ-style)."""
    padded = F.pad(x, (pad_px, pad_px, pad_px, pad_px), mode="replicate")  # (N, C, H+2p, W+2p)
    return random_crop(padded, (x.shape[-2], x.shape[-1]), generator)


def color_jitter(x: Tensor, strength: float, generator: torch.Generator | None) -> Tensor:
    """Per-sample brightness, contrast and saturation factors in ``[1 − s, 1 + s]``; ``(N, 3, H, W)``."""
    n = x.shape[0]
    factors = 1.0 + strength * (2.0 * torch.rand(3, n, 1, 1, 1, generator=generator) - 1.0)
    factors = factors.to(x.device, x.dtype)  # (3, N, 1, 1, 1)
    x = x * factors[0]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    x = (x - mean) * factors[1] + mean
    grey = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]  # (N, 1, H, W)
    x = (x - grey) * factors[2] + grey
    return x.clamp(0.0, 1.0)


def prepare_images(
    batch: dict[str, Tensor],
    config: Any,
    training: bool,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Every camera of ``batch`` (``(B, 3, H, W)`` or ``(B, T, 3, H, W)``, uint8 or float in [0, 1])
    → float, at the model's input size, cropped and augmented as the config says."""
    out = dict(batch)
    for key in config.image_keys:
        if key not in batch:
            continue
        x = batch[key]
        lead = x.shape[:-3]
        flat = x.reshape(-1, *x.shape[-3:])  # (N, 3, H, W)
        flat = flat.float().div_(255.0) if flat.dtype == torch.uint8 else flat.float()
        stored = stored_image_hw(config, key)
        if tuple(flat.shape[-2:]) != stored:
            flat = resize_tensor(flat, stored)
        if config.crop_shape:
            flat = crop(flat, model_image_hw(config, key), training, generator)
        if training and config.random_shift_px:
            flat = random_shift(flat, int(config.random_shift_px), generator)
        if training and config.color_jitter:
            flat = color_jitter(flat, float(config.color_jitter), generator)
        if flat.is_cuda:
            flat = flat.contiguous(memory_format=torch.channels_last)
        out[key] = flat.reshape(*lead, *flat.shape[-3:])
    return out
