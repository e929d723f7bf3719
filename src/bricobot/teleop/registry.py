"""The teleoperator registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new teleoperator; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

TELEOPERATORS: dict[str, RegistryEntry] = {
    "so101_leader": RegistryEntry(
        config="bricobot.teleop.leader_arm:SO101LeaderConfig",
        impl="bricobot.teleop.leader_arm:SO101Leader",
        help="SO-101 leader arm (Feetech), torque off, read through its calibration",
    ),
    "koch_leader": RegistryEntry(
        config="bricobot.teleop.leader_arm:KochLeaderConfig",
        impl="bricobot.teleop.leader_arm:KochLeader",
        help="Koch leader arm (Dynamixel XL330-M077), gripper springs back like a trigger",
    ),
    "keyboard": RegistryEntry(
        config="bricobot.teleop.keyboard:KeyboardTeleopConfig",
        impl="bricobot.teleop.keyboard:KeyboardTeleop",
        help="terminal keyboard (works over SSH): two keys per joint",
    ),
    "sim_expert": RegistryEntry(
        config="bricobot.teleop.sim_expert:SimExpertTeleopConfig",
        impl="bricobot.teleop.sim_expert:SimExpertTeleop",
        help="scripted expert of the sim task the robot runs (needs robot=so101_sim)",
    ),
}
