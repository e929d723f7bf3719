"""Environment steps per second of bricobot/SO101PickCube-v0, single env, as JSON.

Cases: state only; two cameras at 96×96; two cameras at 480×640. Baseline in the same run: raw
``mj_step`` calls for one control period (the physics floor under every case).

    python scripts/bench/sim.py --steps 600
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import gymnasium as gym
import mujoco
import numpy as np

import bricobot.envs  # noqa: F401  (registers the env, picks the GL backend)


def env_steps_per_s(cameras: list[str], height: int, width: int, steps: int) -> float:
    env = gym.make(
        "bricobot/SO101PickCube-v0", cameras=cameras, image_height=height, image_width=width
    )
    env.reset(seed=0)
    action = env.unwrapped.task.home_pose().astype(np.float32)  # type: ignore[attr-defined]
    env.step(action)  # warm-up: renderer creation
    start = time.perf_counter()
    for i in range(steps):
        _, _, _, truncated, _ = env.step(action)
        if truncated:
            env.reset(seed=i)
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def physics_steps_per_s(steps: int) -> float:
    env = gym.make("bricobot/SO101PickCube-v0", cameras=[])
    env.reset(seed=0)
    task = env.unwrapped.task  # type: ignore[attr-defined]
    start = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(task.model, task.data, nstep=task.substeps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    two = ["front", "wrist"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "baseline_physics_only_steps_per_s": round(physics_steps_per_s(args.steps * 4)),
        "state_only_steps_per_s": round(env_steps_per_s([], 96, 96, args.steps * 4)),
        "two_cams_96x96_steps_per_s": round(env_steps_per_s(two, 96, 96, args.steps)),
        "two_cams_480x640_steps_per_s": round(env_steps_per_s(two, 480, 640, args.steps // 4), 1),
        "targets": {"state_only": 1000, "two_cams_96x96": 150},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
