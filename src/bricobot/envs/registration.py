"""Gymnasium ids for bricobot's tasks, one per entry of the ENVS registry.

Gymnasium 1.x has no plugin discovery (``gymnasium.envs`` entry points were removed in 1.0), so
gymnasium knows these ids once ``bricobot.envs`` is imported, which calls :func:`register_envs`.
Without an import statement, name the module in the id and gymnasium imports it::

    gym.make("bricobot.envs:bricobot/SO101PickCube-v0")
"""

from __future__ import annotations

import gymnasium

#: gymnasium id → (entry point, ENVS registry name of its task).
GYM_IDS: dict[str, tuple[str, str]] = {
    "bricobot/SO101PickCube-v0": ("bricobot.envs.gym_env:TaskEnv", "so101_pick_cube"),
}


def register_envs() -> None:
    """Register every id in :data:`GYM_IDS` with gymnasium (idempotent). Only registers: the env
    module is imported, and MuJoCo loaded, when an env is first made."""
    for env_id, (entry_point, task_name) in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=entry_point, kwargs={"task": task_name})
