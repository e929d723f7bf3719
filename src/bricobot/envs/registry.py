"""The env task registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new env task; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

ENVS: dict[str, RegistryEntry] = {
    "so101_pick_cube": RegistryEntry(
        config="bricobot.envs.tasks.pick_cube:PickCubeConfig",
        impl="bricobot.envs.tasks.pick_cube:PickCube",
        help="SO-101 lifts a 2.5 cm cube placed at a random position (gym: bricobot/SO101PickCube-v0)",
    ),
}
