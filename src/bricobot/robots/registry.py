"""The robot registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new robot; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

ROBOTS: dict[str, RegistryEntry] = {
    "so101": RegistryEntry(
        config="bricobot.robots.so101:SO101FollowerConfig",
        impl="bricobot.robots.so101:SO101Follower",
        help="SO-101 follower arm (Feetech STS3215) with cameras",
    ),
    "koch": RegistryEntry(
        config="bricobot.robots.koch:KochFollowerConfig",
        impl="bricobot.robots.koch:KochFollower",
        help="Koch v1.1 follower arm (Dynamixel XL430/XL330) with cameras",
    ),
    "bimanual": RegistryEntry(
        config="bricobot.robots.bimanual:BimanualConfig",
        impl="bricobot.robots.bimanual:Bimanual",
        help="two arms as one robot, keys prefixed left_/right_",
    ),
    "so101_sim": RegistryEntry(
        config="bricobot.robots.sim:SimRobotConfig",
        impl="bricobot.robots.sim:SimRobot",
        help="the SO-101's MuJoCo twin running a task (PickCube by default)",
    ),
}
