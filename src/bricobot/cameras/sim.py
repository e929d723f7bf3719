"""A camera that renders a named MuJoCo camera, behind the same interface as a real one.

Give it the ``model``/``data`` of a running simulation (and the lock that guards ``data`` if another
thread steps it, as the virtual arm does), or let it load ``model_path`` itself and render that
scene at its initial pose. Frames are rendered off-screen on a background thread at ``fps``, so a
read costs the same as reading a USB camera, and the usual staleness rules apply.

Rendering goes through :mod:`bricobot.cameras.rendering`, which picks a headless OpenGL backend
when ``MUJOCO_GL`` is unset and explains what to install when none works.
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.cameras.base import CameraError
from bricobot.cameras.rendering import RenderingError, import_mujoco, make_renderer
from bricobot.cameras.threaded import Clock, ThreadedCamera


@dataclass
class SimCameraConfig:
    """A MuJoCo camera rendered off-screen."""

    type: str = "sim"
    camera: str = "front"  # name of a <camera> in the MJCF
    width: int = 640
    height: int = 480
    fps: float = 30.0
    # Scene to load when no running simulation is handed over ("" = one must be handed over).
    # "so101" means hardware/so101/so101.xml; "so101/scene_pick_cube.xml" a file in hardware/.
    model_path: str = ""
    max_age_periods: float = 3.0

    def __post_init__(self) -> None:
        if self.type != "sim":
            raise ValueError(f"type must be 'sim', got {self.type!r}")
        if not self.camera:
            raise ValueError("camera must name a <camera> of the MuJoCo model")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"width/height must be positive, got {self.width}×{self.height}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not self.max_age_periods > 0:
            raise ValueError(f"max_age_periods must be > 0, got {self.max_age_periods}")


def resolve_model_path(model_path: str) -> Path:
    """A file path as given if it exists; else relative to the packaged ``hardware/`` folder.

    ``"so101"`` → ``hardware/so101/so101.xml``; ``"so101/scene_pick_cube.xml"`` → that file.
    """
    from importlib import resources

    path = Path(model_path)
    if path.is_file():
        return path
    hardware = Path(str(resources.files("bricobot.hardware")))
    if model_path and "/" not in model_path and not model_path.endswith(".xml"):
        return hardware / model_path / f"{model_path}.xml"
    if not path.is_absolute() and (hardware / path).is_file():
        return hardware / path
    return path


class SimCamera(ThreadedCamera):
    """Renders ``config.camera`` of a MuJoCo model on a background thread."""

    def __init__(
        self,
        config: SimCameraConfig,
        name: str = "camera",
        model: Any = None,
        data: Any = None,
        lock: threading.Lock | threading.RLock | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(name=name, max_age_periods=config.max_age_periods, clock=clock)
        if (model is None) != (data is None):
            raise ValueError("give both model and data of the simulation, or neither")
        self.config = config
        self._model = model
        self._data = data
        self._lock = lock
        self._renderer: Any = None
        self._next_due_s = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.config.height, self.config.width, 3)

    def _describe(self) -> str:
        return f"sim camera {self.name!r} (MuJoCo camera {self.config.camera!r})"

    def _stall_hint(self) -> str:
        return "rendering is too slow for this fps or size; lower them"

    def _open(self) -> float:
        mujoco = import_mujoco()

        if self._model is None:
            if not self.config.model_path:
                raise CameraError(
                    f"{self._describe()}: no simulation was handed over and model_path is empty"
                )
            path = resolve_model_path(self.config.model_path)
            if not path.is_file():
                raise CameraError(f"{self._describe()}: model file {path} does not exist")
            self._model = mujoco.MjModel.from_xml_path(str(path))
            self._data = mujoco.MjData(self._model)
            mujoco.mj_forward(self._model, self._data)
        if mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_CAMERA, self.config.camera) < 0:
            names = [self._model.camera(i).name for i in range(self._model.ncam)]
            raise CameraError(f"{self._describe()}: no such camera in the model; cameras: {names}")
        # Fail at connect, not on the thread, when off-screen GL is unavailable.
        self._make_renderer().close()
        self._next_due_s = time.monotonic()
        return 1.0 / self.config.fps

    def _make_renderer(self) -> Any:
        try:
            return make_renderer(self._model, self.config.height, self.config.width)
        except (RenderingError, ValueError) as exc:
            raise CameraError(f"{self._describe()}: {exc}") from exc

    def _grab(self) -> np.ndarray:
        if self._renderer is None:  # created on the capture thread, which owns its GL context
            self._renderer = self._make_renderer()
        delay_s = self._next_due_s - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)
        self._next_due_s = max(self._next_due_s + self._period_s, time.monotonic() - self._period_s)
        guard: AbstractContextManager[Any] = self._lock if self._lock is not None else nullcontext()
        with guard:
            self._renderer.update_scene(self._data, camera=self.config.camera)
        return self._renderer.render().copy()

    def _on_thread_exit(self) -> None:
        if self._renderer is not None:  # close on the thread whose GL context it uses
            self._renderer.close()
            self._renderer = None

    def _close(self) -> None:
        """Nothing left to release: the renderer was closed by the capture thread."""
