"""Scene randomization: off by default, seeded, restored between episodes, within its ranges."""

from __future__ import annotations

import numpy as np
import pytest

from bricobot.envs.randomization import RandomizationConfig
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig


@pytest.fixture(scope="module")
def task() -> PickCube:
    return PickCube(PickCubeConfig(cameras=[], randomize=True))


def test_plain_task_keeps_the_mjcf_values() -> None:
    plain = PickCube(PickCubeConfig(cameras=[]))
    size = plain.model.geom_size.copy()
    plain.reset(0)
    assert plain.randomization_values == {} and np.array_equal(plain.model.geom_size, size)


def test_values_are_seeded_and_within_their_ranges(task: PickCube) -> None:
    cfg = task.config.randomization
    task.reset(1)
    first = task.randomization_values
    task.reset(2)
    assert task.randomization_values != first
    task.reset(1)
    assert task.randomization_values == first
    lo, hi = cfg.object_size_scale_range
    assert lo <= first["object_size_scale"] <= hi
    assert task.half_size_m == pytest.approx(0.0125 * first["object_size_scale"])
    for offset in first["camera_offsets"]:
        assert max(abs(v) for v in offset[:3]) <= cfg.camera_pos_jitter_m
        assert abs(offset[3]) <= cfg.camera_rot_jitter_deg


def test_each_reset_starts_from_the_nominal_model(task: PickCube) -> None:
    task.reset(3)
    scale = task.randomization_values["object_size_scale"]
    task.reset(3)  # applying twice must not compound
    assert task.randomization_values["object_size_scale"] == scale
    assert task.half_size_m == pytest.approx(0.0125 * scale)
    assert task.cube_position[2] == pytest.approx(task.rest_height_m, abs=1e-3)


def test_bad_ranges_are_rejected() -> None:
    with pytest.raises(ValueError, match="friction_scale_range"):
        RandomizationConfig(friction_scale_range=[1.2, 0.8])
    with pytest.raises(ValueError, match="camera_pos_jitter_m"):
        RandomizationConfig(camera_pos_jitter_m=-0.001)
