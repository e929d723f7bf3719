"""Headless MuJoCo rendering that just works, for the sim cameras and the sim envs.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, so the backend is chosen here,
before that import: with ``MUJOCO_GL`` unset and no display, EGL is probed in a short subprocess,
then OSMesa. :func:`make_renderer` turns any failure to create a GL context into one
:class:`RenderingError` that names ``MUJOCO_GL`` and the package to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np

#: Backends tried, in order, when MUJOCO_GL is unset and there is no display.
HEADLESS_BACKENDS = ("egl", "osmesa")

#: What to install for each backend (Debian/Ubuntu package names).
BACKEND_PACKAGES = {
    "egl": "libegl1 (apt-get install -y libegl1 libgl1)",
    "osmesa": "libosmesa6 (apt-get install -y libosmesa6)",
    "glfw": "a display (or unset MUJOCO_GL to render headless)",
    "glx": "a display with GLX (or unset MUJOCO_GL to render headless)",
}

_PROBE = (
    "import mujoco;"
    "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody/></mujoco>');"
    "r = mujoco.Renderer(m, 8, 8); r.render(); r.close()"
)


class RenderingError(RuntimeError):
    """No OpenGL backend could render; the message names MUJOCO_GL and the fix."""


def backend_works(backend: str, timeout_s: float = 30.0) -> bool:
    """Whether MuJoCo can render with ``MUJOCO_GL=backend``, tried in a fresh subprocess."""
    env = dict(os.environ, MUJOCO_GL=backend)
    if backend == "osmesa":
        env["PYOPENGL_PLATFORM"] = "osmesa"
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def select_backend() -> str:
    """Choose ``MUJOCO_GL`` if the user did not, and export it; returns the backend in use.

    Must run before ``import mujoco`` to take effect; ``bricobot.envs`` calls it on import.
    """
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        return chosen
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return "glfw"
    for backend in HEADLESS_BACKENDS:
        if backend_works(backend):
            os.environ["MUJOCO_GL"] = backend
            if backend == "osmesa":
                os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
            return backend
    # Nothing works: keep EGL so the first render fails inside make_renderer, which explains.
    os.environ["MUJOCO_GL"] = "egl"
    return "egl"


def import_mujoco() -> Any:
    """``import mujoco`` after choosing the backend; a backend that cannot load is explained."""
    backend = select_backend()
    try:
        import mujoco
    except (ImportError, AttributeError, OSError, RuntimeError) as exc:
        raise RenderingError(no_backend_message(backend, exc)) from exc
    return mujoco


def no_backend_message(backend: str, cause: object) -> str:
    fixes = "; ".join(f"MUJOCO_GL={name} needs {pkg}" for name, pkg in BACKEND_PACKAGES.items())
    return (
        f"MuJoCo cannot render with MUJOCO_GL={backend!r} ({cause}). Headless machines need "
        f"MUJOCO_GL=egl or MUJOCO_GL=osmesa with its library installed: {fixes}. "
        "Unset MUJOCO_GL to let bricobot pick a working backend, or turn cameras off "
        "(env.cameras=[]) for state-only use."
    )


def gl_context_class(backend: str) -> Any:
    """The GLContext class of ``backend``, imported explicitly (independent of import order)."""
    import importlib

    module = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa"}.get(backend, "mujoco.glfw")
    return importlib.import_module(module).GLContext


class OffscreenRenderer:
    """Renders named cameras of a model to uint8 RGB arrays (H, W, 3) in an off-screen buffer.

    Unlike ``mujoco.Renderer``, the GL backend is the one :func:`select_backend` chose even when
    ``mujoco`` was imported before ``MUJOCO_GL`` was set.
    """

    def __init__(self, model: Any, height: int, width: int) -> None:
        import mujoco

        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            raise ValueError(
                f"image {height}x{width} exceeds the model's off-screen buffer "
                f"{model.vis.global_.offheight}x{model.vis.global_.offwidth}: lower the image size "
                "or raise <visual><global offwidth=... offheight=.../></visual> in the MJCF"
            )
        backend = select_backend()
        self._gl: Any = None
        try:
            self._gl = gl_context_class(backend)(width, height)
            self._gl.make_current()
            self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        except Exception as exc:
            raise RenderingError(no_backend_message(backend, exc)) from exc
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._model = model
        self._scene = mujoco.MjvScene(model, maxgeom=2000)
        # Software GL on CPU machines: shadows, reflections and the skybox cost more than they show.
        for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_FOG", "mjRND_HAZE"):
            self._scene.flags[getattr(mujoco.mjtRndFlag, flag)] = False
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._pixels = np.empty((height, width, 3), dtype=np.uint8)

    def update_scene(self, data: Any, camera: str) -> None:
        import mujoco

        camera_id = mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if camera_id < 0:
            raise ValueError(f"no camera named {camera!r} in the model")
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(
            self._model,
            data,
            self._option,
            None,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )

    def render(self) -> np.ndarray:
        """The last updated scene as a new uint8 array (H, W, 3)."""
        import mujoco

        self._gl.make_current()
        mujoco.mjr_render(self._rect, self._scene, self._context)
        mujoco.mjr_readPixels(self._pixels, None, self._rect, self._context)
        return np.flipud(self._pixels).copy()  # OpenGL rows run bottom-up

    def close(self) -> None:
        if self._gl is not None:
            self._context.free()
            self._gl.free()
            self._gl = None


def make_renderer(model: Any, height: int, width: int) -> OffscreenRenderer:
    """An :class:`OffscreenRenderer`, or a :class:`RenderingError` that names MUJOCO_GL and the fix."""
    return OffscreenRenderer(model, height, width)
