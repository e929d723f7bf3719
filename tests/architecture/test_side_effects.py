"""Importing any bricobot module changes no environment variable and starts no process.

Some libraries bricobot uses change the environment when they are imported (OpenCV prepends its
bundled libraries to LD_LIBRARY_PATH, gymnasium hides pygame's banner); they are imported before the
snapshot, so what is checked is what bricobot's own modules do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, pkgutil, subprocess, importlib
started = []
original = subprocess.Popen.__init__
def spy(self, *args, **kwargs):
    started.append(str(args[0] if args else kwargs.get("args")))
    original(self, *args, **kwargs)
subprocess.Popen.__init__ = spy
import cv2, gymnasium, torch  # their own import-time environment changes are not ours
before = dict(os.environ)
import bricobot
names = [m.name for m in pkgutil.walk_packages(bricobot.__path__, "bricobot.")]
for name in names:
    importlib.import_module(name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"modules": len(names), "changed": changed, "started": started}))
"""


def test_importing_every_module_has_no_side_effects() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # no MUJOCO_GL, no display
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["modules"] > 100
    assert result["changed"] == [] and result["started"] == []
