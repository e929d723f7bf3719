"""Image preprocessing from the policy config: resize keeping the aspect ratio, crop (random while
training, centered at inference), augmentation only while training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.fakes.policy_batches import tiny_act_config, tiny_diffusion_config

from bricobot.cameras.resize import fit_frame
from bricobot.policies.preprocessing import crop, prepare_images


def test_fit_frame_keeps_the_aspect_ratio_and_crops_the_center() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :80] = 255  # a white band on the left eighth
    same_aspect = fit_frame(frame, (240, 320))
    assert same_aspect.shape == (240, 320, 3) and same_aspect[:, :40].min() == 255
    square = fit_frame(frame, (96, 96))  # 480x640 -> 96x128, then the center 96x96
    assert square.shape == (96, 96, 3)
    assert square[:, :4].max() == 0  # the band (the left 16 px at 96x128) was cropped away
    assert fit_frame(frame, None) is frame


def test_crop_is_random_while_training_and_centered_otherwise() -> None:
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).reshape(2, 3, 10, 10)
    centre = crop(x, (6, 6), training=False, generator=None)
    torch.testing.assert_close(centre, x[..., 2:8, 2:8])
    g = torch.Generator().manual_seed(0)
    crops = {crop(x, (6, 6), training=True, generator=g)[0, 0, 0, 0].item() for _ in range(20)}
    assert len(crops) > 3  # different windows
    assert crop(x, (10, 10), training=True, generator=g) is x


@pytest.mark.parametrize("training", [True, False])
def test_diffusion_sees_the_crop_and_act_the_augmented_images(training: bool) -> None:
    cfg = tiny_diffusion_config(image_size=[32, 32], crop_shape=[28, 24])
    batch = {
        "observation.images.front": torch.randint(0, 255, (2, 2, 3, 32, 32), dtype=torch.uint8)
    }
    out = prepare_images(batch, cfg, training=training)["observation.images.front"]
    assert out.shape == (2, 2, 3, 28, 24) and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0

    act = tiny_act_config(random_shift_px=3, color_jitter=0.3)
    images = torch.rand(4, 3, 32, 32)
    shifted = prepare_images({"observation.images.front": images}, act, training=training)
    changed = not torch.equal(shifted["observation.images.front"], images)
    assert changed is training  # augmentation only while training


def test_float_inputs_of_another_size_are_resized_like_fit_frame() -> None:
    cfg = tiny_act_config(image_size=[16, 16])
    yy, xx = np.mgrid[0:32, 0:48]
    smooth = np.stack([4 * yy, 5 * xx, 2 * (yy + xx)], axis=-1)  # a camera image, not noise
    frame = smooth.astype(np.uint8)
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    out = prepare_images({"observation.images.front": x}, cfg, training=False)
    expected = torch.from_numpy(fit_frame(frame, (16, 16))).permute(2, 0, 1)[None].float() / 255
    assert out["observation.images.front"].shape == (1, 3, 16, 16)
    assert (
        out["observation.images.front"] - expected
    ).abs().mean() < 0.02  # two filters, same geometry


def test_bad_preprocessing_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="crop_shape"):
        tiny_diffusion_config(image_size=[32, 32], crop_shape=[40, 24])
    with pytest.raises(ValueError, match="color_jitter"):
        tiny_act_config(color_jitter=1.5)
