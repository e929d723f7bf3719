"""Image augmentations in plain torch (no torchvision), for ``BricobotDataset(image_transforms=…)``.

Each transform takes one float image (C, H, W) in [0, 1] and returns one of the same shape.
Randomness comes from a ``torch.Generator`` so a seeded run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ImageAugmentConfig:
    """Strength of each augmentation; 0 turns it off."""

    brightness: float = 0.2  # multiply by a factor in [1 - b, 1 + b]
    contrast: float = 0.2  # blend with the mean grey by a factor in [1 - c, 1 + c]
    saturation: float = 0.2  # blend with the greyscale image by a factor in [1 - s, 1 + s]
    max_shift_px: int = 4  # random translation by up to this many pixels (edge padding)

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.max_shift_px < 0:
            raise ValueError(f"max_shift_px must be >= 0, got {self.max_shift_px}")


class ImageAugment:
    """Colour jitter and random shift, applied to one (C, H, W) image at a time."""

    def __init__(self, config: ImageAugmentConfig | None = None, seed: int | None = None) -> None:
        self.config = config or ImageAugmentConfig()
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def _factor(self, strength: float) -> float:
        u = float(torch.rand((), generator=self.generator))
        return 1.0 + strength * (2.0 * u - 1.0)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        out = image
        if cfg.brightness:
            out = out * self._factor(cfg.brightness)
        if cfg.contrast:
            mean = out.mean()
            out = (out - mean) * self._factor(cfg.contrast) + mean
        if cfg.saturation and out.shape[0] == 3:
            grey = (0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]).unsqueeze(0)  # (1, H, W)
            out = (out - grey) * self._factor(cfg.saturation) + grey
        if cfg.max_shift_px:
            s = cfg.max_shift_px
            _, h, w = out.shape
            padded = F.pad(out.unsqueeze(0), (s, s, s, s), mode="replicate")[0]  # (C, H+2s, W+2s)
            dy, dx = (int(v) for v in torch.randint(0, 2 * s + 1, (2,), generator=self.generator))
            out = padded[:, dy : dy + h, dx : dx + w]
        return out.clamp(0.0, 1.0)
