"""Headless rendering: a working backend is picked with MUJOCO_GL unset; a broken one is explained."""

from __future__ import annotations

import os
import subprocess
import sys

SNIPPET = (
    "import bricobot.envs, os;"
    "from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig;"
    "t = PickCube(PickCubeConfig(cameras=['front'], image_height=24, image_width=32));"
    "t.reset(0); img = t.render('front'); assert img.shape == (24, 32, 3) and img.std() > 1;"
    "print(os.environ['MUJOCO_GL'])"
)


def run(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, timeout=120
    )


def test_unset_mujoco_gl_without_display_picks_a_headless_backend() -> None:
    result = run({"MUJOCO_GL": None, "DISPLAY": None, "WAYLAND_DISPLAY": None})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("egl", "osmesa")


def test_a_forced_backend_that_cannot_work_names_mujoco_gl_and_the_fix() -> None:
    # GLX needs an X display; with none, rendering must fail with one actionable message.
    result = run({"MUJOCO_GL": "glx", "DISPLAY": None})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "RenderingError" in last_line and "MUJOCO_GL" in last_line
    assert "apt-get install" in last_line
