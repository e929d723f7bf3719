"""GPU path of the trainer (skipped without CUDA): bf16 autocast, channels_last, uint8 images made
float on the device, pinned-memory loading. Run on a GPU machine with ``pytest -m gpu``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tests.fakes.policy_batches import tiny_act_config, tiny_diffusion_config
from tests.fakes.policy_dataset import training_data, write_dataset

from bricobot.policies.preprocessing import prepare_images
from bricobot.training.config import TrainerConfig
from bricobot.training.trainer import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("make_cfg", [tiny_act_config, tiny_diffusion_config])
def test_bf16_training_on_the_gpu_from_a_worker_loader(make_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = write_dataset(tmp_path / "ds", episodes=4, length=30, use_videos=True)
    data = training_data(root, make_cfg(), num_workers=2)
    cfg = TrainerConfig(steps=6, device="cuda", amp=True, log_every=2, val_every=3, progress=False)
    result = train(data, cfg, tmp_path / "run")
    assert all(math.isfinite(v) for v in result.losses)
    assert result.val_losses and math.isfinite(result.val_losses[-1][1])


def test_uint8_images_become_channels_last_floats_on_the_device() -> None:
    cfg = tiny_act_config()
    images = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8).cuda()
    out = prepare_images({"observation.images.front": images}, cfg, training=True)
    x = out["observation.images.front"]
    assert x.is_cuda and x.dtype == torch.float32 and x.max() <= 1.0
    assert x.is_contiguous(memory_format=torch.channels_last)
