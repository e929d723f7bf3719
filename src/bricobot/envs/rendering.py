"""Headless MuJoCo rendering that just works.

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


def no_backend_message(backend: str, cause: object) -> str:
    fixes = "; ".join(f"MUJOCO_GL={name} needs {pkg}" for name, pkg in BACKEND_PACKAGES.items())
    return (
        f"MuJoCo cannot render with MUJOCO_GL={backend!r} ({cause}). Headless machines need "
        f"MUJOCO_GL=egl or MUJOCO_GL=osmesa with its library installed: {fixes}. "
        "Unset MUJOCO_GL to let bricobot pick a working backend, or turn cameras off "
        "(env.cameras=[]) for state-only use."
    )


def make_renderer(model: Any, height: int, width: int) -> Any:
    """A ``mujoco.Renderer`` of ``height``×``width``, or a :class:`RenderingError` that says why."""
    import mujoco

    backend = os.environ.get("MUJOCO_GL", "glfw")
    try:
        return mujoco.Renderer(model, height=height, width=width)
    except ValueError:
        raise  # a size larger than the model's offscreen buffer: mujoco's message is clear
    except Exception as exc:
        raise RenderingError(no_backend_message(backend, exc)) from exc
