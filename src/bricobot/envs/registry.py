"""The env task registry: name → config dataclass + implementation + scripted expert, imported lazily.

Add an entry here for each new env task; the contract tests in tests/test_registries.py and
tests/envs/test_task_contract.py walk them all. Each config dataclass has a type field whose default
is its name in this dict. The entry also names the task's scripted expert (``expert``, a
``"module:Class"`` path, see :func:`bricobot.envs.experts.make_expert`) and its gymnasium name
(``gym_name``: registered as ``bricobot/<gym_name>-v0`` and, randomized, ``<gym_name>Rand-v0``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bricobot.registry import RegistryEntry


@dataclass(frozen=True)
class EnvEntry(RegistryEntry):
    """A task's registry entry: its config, implementation, scripted expert and gymnasium name."""

    expert: str = ""
    gym_name: str = ""


ENVS: dict[str, RegistryEntry] = {
    "so101_pick_cube": EnvEntry(
        config="bricobot.envs.tasks.pick_cube:PickCubeConfig",
        impl="bricobot.envs.tasks.pick_cube:PickCube",
        help="SO-101 lifts a 2.5 cm cube placed at a random position (gym: bricobot/SO101PickCube-v0)",
        expert="bricobot.envs.experts.pick_cube:PickCubeExpert",
        gym_name="SO101PickCube",
    ),
    "so101_place_cube": EnvEntry(
        config="bricobot.envs.tasks.place_cube:PlaceCubeConfig",
        impl="bricobot.envs.tasks.place_cube:PlaceCube",
        help="SO-101 puts a cube into a shallow tray (gym: bricobot/SO101PlaceCube-v0)",
        expert="bricobot.envs.experts.place_cube:PlaceCubeExpert",
        gym_name="SO101PlaceCube",
    ),
    "so101_stack_cube": EnvEntry(
        config="bricobot.envs.tasks.stack_cube:StackCubeConfig",
        impl="bricobot.envs.tasks.stack_cube:StackCube",
        help="SO-101 stacks the red cube on the green one (gym: bricobot/SO101StackCube-v0)",
        expert="bricobot.envs.experts.stack_cube:StackCubeExpert",
        gym_name="SO101StackCube",
    ),
    "so101_push_t": EnvEntry(
        config="bricobot.envs.tasks.push_t:PushTConfig",
        impl="bricobot.envs.tasks.push_t:PushT",
        help="SO-101 pushes a T-shaped block onto a target pose (gym: bricobot/SO101PushT-v0)",
        expert="bricobot.envs.experts.push_t:PushTExpert",
        gym_name="SO101PushT",
    ),
    "koch_pick_cube": EnvEntry(
        config="bricobot.envs.tasks.koch_pick_cube:KochPickCubeConfig",
        impl="bricobot.envs.tasks.koch_pick_cube:KochPickCube",
        help="Koch v1.1 twin lifts a 2.5 cm cube (gym: bricobot/KochPickCube-v0)",
        expert="bricobot.envs.experts.pick_cube:PickCubeExpert",
        gym_name="KochPickCube",
    ),
    "bimanual_so101_transfer_cube": EnvEntry(
        config="bricobot.envs.tasks.transfer_cube:TransferCubeConfig",
        impl="bricobot.envs.tasks.transfer_cube:TransferCube",
        help="two SO-101 arms: the right picks a block and hands it to the left "
        "(gym: bricobot/BimanualSO101TransferCube-v0)",
        expert="bricobot.envs.experts.transfer_cube:TransferCubeExpert",
        gym_name="BimanualSO101TransferCube",
    ),
}


def env_entry(name: str) -> EnvEntry:
    """The :class:`EnvEntry` of task ``name`` (``KeyError`` listing the valid names)."""
    from bricobot.registry import lookup

    entry = lookup(ENVS, "env task", name)
    if not isinstance(entry, EnvEntry):
        raise TypeError(f"env task {name!r} is registered without an EnvEntry (expert, gym name)")
    return entry
