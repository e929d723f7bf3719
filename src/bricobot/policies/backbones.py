"""Vision backbones in plain torch (no torchvision): ResNet18 and a spatial-softmax head.

The ResNet18 keeps torchvision's module names (``conv1``, ``bn1``, ``layer1.0.conv1`` …) so an
ImageNet checkpoint converted to safetensors loads with :func:`load_backbone_weights`. ``width``
scales every stage (64 is the standard network; 16 or 32 give a narrow one that trains on a CPU).
Normalization: ``batch``, ``frozen_batch`` (statistics and affine fixed, as ACT does with ImageNet
weights) or ``group`` (Diffusion Policy replaces BatchNorm with GroupNorm).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn
from torch.nn import functional as F

NORM_KINDS = ("batch", "frozen_batch", "group")


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (buffers, never trained)."""

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        # (C,) -> (1, C, 1, 1) to broadcast over (B, C, H, W)
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "frozen_batch":
        return FrozenBatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(max(1, channels // 16), channels)
    raise ValueError(f"backbone norm must be one of {', '.join(NORM_KINDS)}, got {kind!r}")


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = make_norm(norm, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = make_norm(norm, out_ch)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), make_norm(norm, out_ch)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet18 trunk without pooling and classifier: ``(B, 3, H, W)`` → ``(B, 8·width, H/32, W/32)``.

    ``stem_stride`` 1 (instead of 4 from conv+maxpool) keeps spatial detail for small images.
    """

    def __init__(self, width: int = 64, norm: str = "batch", small_input: bool = False) -> None:
        super().__init__()
        self.out_channels = 8 * width
        self.small_input = small_input
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = make_norm(norm, width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [width, 2 * width, 4 * width, 8 * width]
        self.layer1 = nn.Sequential(
            BasicBlock(width, chans[0], 1, norm), BasicBlock(chans[0], chans[0], 1, norm)
        )
        self.layer2 = nn.Sequential(
            BasicBlock(chans[0], chans[1], 2, norm), BasicBlock(chans[1], chans[1], 1, norm)
        )
        self.layer3 = nn.Sequential(
            BasicBlock(chans[1], chans[2], 2, norm), BasicBlock(chans[2], chans[2], 1, norm)
        )
        self.layer4 = nn.Sequential(
            BasicBlock(chans[2], chans[3], 2, norm), BasicBlock(chans[3], chans[3], 1, norm)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        if not self.small_input:
            x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Load torchvision-named weights (``fc.*`` ignored) from a local safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained backbone weights not found: {path}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file: {exc}") from exc
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    bad_shape = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    if missing or bad_shape:
        raise ValueError(
            f"{path} does not match the backbone: missing {missing[:5]}, wrong shape {bad_shape[:5]}"
            " (pretrained weights need width 64 and a ResNet18 layout)"
        )
    model.load_state_dict(state, strict=False)


class SpatialSoftmax(nn.Module):
    """Spatial soft arg-max (Levine et al. 2016): ``(B, C, H, W)`` → ``(B, K, 2)`` keypoints in [-1, 1].

    A 1×1 convolution first maps the C channels to K keypoint maps.
    """

    pos_grid: Tensor

    def __init__(self, in_channels: int, feature_hw: tuple[int, int], num_keypoints: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, num_keypoints, 1)
        h, w = feature_hw
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        # (H*W, 2) grid of (x, y) positions
        self.register_buffer("pos_grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))
        self.num_keypoints = num_keypoints

    def forward(self, features: Tensor) -> Tensor:
        x = self.proj(features)  # (B, K, H, W)
        b, k, h, w = x.shape
        attention = F.softmax(x.reshape(b * k, h * w), dim=-1)  # (B*K, H*W)
        keypoints = attention @ self.pos_grid  # (B*K, 2)
        return keypoints.reshape(b, k, 2)


def feature_map_hw(backbone: nn.Module, image_hw: tuple[int, int]) -> tuple[int, int]:
    """Spatial size of the backbone's output for an input of ``image_hw`` (one dummy forward)."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, *image_hw))
    backbone.train(was_training)
    return int(out.shape[-2]), int(out.shape[-1])
