"""Gymnasium ids for bricobot's tasks. Idempotent; also the ``gymnasium.envs`` entry point."""

from __future__ import annotations

import gymnasium

#: gymnasium id → (entry point, ENVS registry name of its task).
GYM_IDS: dict[str, tuple[str, str]] = {
    "bricobot/SO101PickCube-v0": ("bricobot.envs.gym_env:TaskEnv", "so101_pick_cube"),
}


def register_envs() -> None:
    for env_id, (entry_point, task_name) in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=entry_point, kwargs={"task": task_name})
