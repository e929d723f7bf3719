"""Registers every dataclass schema with Hydra's ConfigStore.

Each registry entry's config class is stored as ``<group>/<name>_schema`` so that a YAML preset
``hydra_configs/<group>/<preset>.yaml`` can extend it with ``defaults: [<name>_schema, _self_]``;
keys that are not in the dataclass are then rejected by Hydra itself.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from bricobot.cameras.registry import CAMERAS
from bricobot.envs.registry import ENVS
from bricobot.policies.registry import POLICIES
from bricobot.registry import RegistryEntry
from bricobot.robots.registry import ROBOTS
from bricobot.teleop.registry import TELEOPERATORS

#: Hydra config group → registry whose config classes populate it.
GROUPS: dict[str, dict[str, RegistryEntry]] = {
    "robot": ROBOTS,
    "teleop": TELEOPERATORS,
    "camera": CAMERAS,
    "policy": POLICIES,
    "env": ENVS,
}


def register_schemas() -> None:
    """Store every registered config class under its group (idempotent)."""
    store = ConfigStore.instance()
    for group, registry in GROUPS.items():
        for name, entry in registry.items():
            store.store(group=group, name=f"{name}_schema", node=entry.config_class())
