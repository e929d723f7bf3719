"""Gymnasium ids for bricobot's tasks: two per entry of the ENVS registry, plain and randomized.

``bricobot/<gym_name>-v0`` is the plain task (deterministic under a seed); ``<gym_name>Rand-v0`` is
the same task with ``randomize=True`` (lighting, colours, camera pose, object size and friction
drawn at every reset). A change of a task's behaviour gets a new version, never a silent edit.

Gymnasium 1.x has no plugin discovery (``gymnasium.envs`` entry points were removed in 1.0), so
gymnasium knows these ids once ``bricobot.envs`` is imported, which calls :func:`register_envs`.
Without an import statement, name the module in the id and gymnasium imports it::

    gym.make("bricobot.envs:bricobot/SO101PickCube-v0")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium

from bricobot.envs.registry import ENVS

ENTRY_POINT = "bricobot.envs.gym_env:TaskEnv"


@dataclass(frozen=True)
class GymId:
    """One gymnasium id: the ENVS task it makes and the config overrides of this variant."""

    task: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"task": self.task, **self.overrides}


def gym_ids() -> dict[str, GymId]:
    """Every id, built from the ``gym_name`` of each ENVS entry (plain, then randomized)."""
    ids: dict[str, GymId] = {}
    for task, entry in ENVS.items():
        name = getattr(entry, "gym_name", "")
        if not name:
            raise ValueError(f"env task {task!r} has no gym_name in bricobot.envs.registry")
        ids[f"bricobot/{name}-v0"] = GymId(task)
        ids[f"bricobot/{name}Rand-v0"] = GymId(task, {"randomize": True})
    return ids


#: gymnasium id → task and overrides (e.g. ``bricobot/SO101PushTRand-v0``).
GYM_IDS: dict[str, GymId] = gym_ids()


def register_envs() -> None:
    """Register every id in :data:`GYM_IDS` with gymnasium (idempotent). Only registers: the env
    module is imported, and MuJoCo loaded, when an env is first made."""
    for env_id, gym_id in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=ENTRY_POINT, kwargs=gym_id.kwargs)
