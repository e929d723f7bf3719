"""Normalization is model state: exact round trips, and a clear error when statistics are missing."""

from __future__ import annotations

import pytest
import torch

from bricobot.policies.base import FeatureConfig
from bricobot.policies.normalize import Normalizer


@pytest.mark.parametrize("mode", ["mean_std", "min_max", "identity"])
def test_inverse_undoes_forward(mode: str) -> None:
    norm = Normalizer({"action": FeatureConfig(shape=[3], normalization=mode)})
    norm.set_stats(
        {"action": {"mean": [1, 2, 3], "std": [2, 2, 2], "min": [-5, 0, 1], "max": [5, 4, 9]}}
    )
    x = torch.randn(4, 10, 3) * 3
    y = norm({"action": x})["action"]
    assert torch.allclose(norm.inverse("action", y), x, atol=1e-5)
    if mode == "min_max":
        bounds = torch.tensor([[-5.0, 0, 1], [5, 4, 9]])
        assert torch.allclose(
            norm({"action": bounds})["action"], torch.tensor([[-1.0] * 3, [1.0] * 3])
        )


def test_statistics_are_buffers_saved_with_the_weights() -> None:
    norm = Normalizer({"observation.images.front": FeatureConfig(shape=[8, 8, 3])})
    assert set(norm.state_dict()) == {
        "stats.observation_images_front.mean",
        "stats.observation_images_front.std",
    }
    assert norm.state_dict()["stats.observation_images_front.mean"].shape == (3, 1, 1)


def test_unset_statistics_fail_loudly() -> None:
    norm = Normalizer({"observation.state": FeatureConfig(shape=[2])})
    with pytest.raises(RuntimeError, match=r"observation\.state.*never set"):
        norm({"observation.state": torch.zeros(1, 2)})
