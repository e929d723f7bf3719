"""Importing the sim packages has no side effects: no environment variable, no subprocess."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, subprocess
started = []
original = subprocess.Popen.__init__
def spy(self, *args, **kwargs):
    started.append(args[0] if args else kwargs.get("args"))
    original(self, *args, **kwargs)
subprocess.Popen.__init__ = spy
import bricobot.envs, bricobot.envs.gym_env, bricobot.robots.sim, bricobot.cameras.sim
print(os.environ.get("MUJOCO_GL"), os.environ.get("PYOPENGL_PLATFORM"), len(started))
"""


def test_importing_the_sim_sets_no_environment_variable_and_starts_no_process() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # no MUJOCO_GL, no display
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["None", "None", "0"]


def test_the_backend_is_chosen_when_something_first_renders() -> None:
    probe = (
        "import os; from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig;"
        "t = PickCube(PickCubeConfig(image_height=16, image_width=16)); t.reset(0);"
        "img = t.render('front'); print(os.environ.get('MUJOCO_GL'), img.shape, int(img.max()) > 0)"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    backend, *rest = out.stdout.split(maxsplit=1)
    assert backend in ("egl", "osmesa") and "(16, 16, 3) True" in rest[0]
