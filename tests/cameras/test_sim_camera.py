"""SimCamera: renders a named MuJoCo camera off-screen, from a handed-over or a loaded model."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # before MuJoCo is imported: it picks the GL backend then

import threading

import mujoco
import numpy as np
import pytest

from bricobot.cameras.base import CameraError
from bricobot.cameras.sim import SimCamera, SimCameraConfig, resolve_model_path

pytestmark = pytest.mark.skipif(
    not resolve_model_path("so101").is_file(), reason="hardware/so101/so101.xml not there yet"
)


def test_renders_a_loaded_model_camera() -> None:
    config = SimCameraConfig(
        camera="wrist", width=64, height=48, fps=100, model_path="so101", max_age_periods=100
    )
    with SimCamera(config, name="wrist") as camera:
        frame = camera.read()
    assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
    assert frame.image.std() > 0  # not a blank frame


def test_renders_a_running_simulation_under_its_lock() -> None:
    model = mujoco.MjModel.from_xml_path(str(resolve_model_path("so101")))
    data = mujoco.MjData(model)
    lock = threading.Lock()
    config = SimCameraConfig(camera="wrist", width=32, height=24, fps=100, max_age_periods=100)
    with SimCamera(config, model=model, data=data, lock=lock) as camera:
        first = camera.read()
        second = camera.read()
    assert second.capture_time_s > first.capture_time_s


def test_unknown_camera_lists_the_model_cameras() -> None:
    config = SimCameraConfig(camera="nope", width=32, height=24, model_path="so101")
    with pytest.raises(CameraError, match="wrist"):
        SimCamera(config).connect()
