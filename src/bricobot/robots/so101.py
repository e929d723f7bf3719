"""SO-101 follower arm: six Feetech STS3215 servos (ids 1–6) and its cameras.

Everything but the servo settings lives in :mod:`bricobot.robots.follower`. Settings written on
connect (torque off, only when they differ): return delay 0, maximum acceleration, position mode,
P/I/D = 16/0/32 (a higher P makes the arm shake at rest), and conservative gripper torque and
current limits so a gripper squeezing an object does not overheat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.cameras.base import Camera
from bricobot.motors.bus import MotorBus
from bricobot.robots.follower import FollowerConfig, ServoFollower


def _so101_park() -> dict[str, float]:
    # Folded rest pose (arm_kinematics.md §1.7, rounded inside the joint ranges).
    return {
        "shoulder_pan": 0.0,
        "shoulder_lift": -95.0,
        "elbow_flex": 85.0,
        "wrist_flex": 65.0,
        "wrist_roll": 0.0,
        "gripper": 0.0,
    }


@dataclass
class SO101FollowerConfig(FollowerConfig):
    """An SO-101 follower on a Feetech bus."""

    type: str = "so101"
    park_positions: dict[str, float] = field(default_factory=_so101_park)
    gripper_max_torque_pct: float = 50.0  # Max_Torque_Limit of the gripper, % of stall torque
    gripper_protection_current: int = 250  # Protection_Current of the gripper (raw, 6.5 mA units)
    gripper_overload_torque_pct: int = 25  # Overload_Torque: % torque kept after an overload trip
    p_coefficient: int = 16

    def __post_init__(self) -> None:
        if self.type != "so101":
            raise ValueError(f"type must be 'so101', got {self.type!r}")
        super().__post_init__()
        if not 0 < self.gripper_max_torque_pct <= 100:
            raise ValueError(
                f"gripper_max_torque_pct must be in (0, 100], got {self.gripper_max_torque_pct}"
            )
        if not 0 < self.gripper_overload_torque_pct <= 100:
            raise ValueError(
                f"gripper_overload_torque_pct must be in (0, 100], got {self.gripper_overload_torque_pct}"
            )
        if self.gripper_protection_current <= 0:
            raise ValueError(
                f"gripper_protection_current must be > 0, got {self.gripper_protection_current}"
            )


class SO101Follower(ServoFollower):
    """The SO-101 follower arm; see :mod:`bricobot.robots.follower` for the behaviour."""

    robot_type = "so101_follower"
    hardware_folder = "so101"
    config: SO101FollowerConfig

    def __init__(
        self, config: SO101FollowerConfig, cameras: dict[str, Camera] | None = None
    ) -> None:
        super().__init__(config, cameras)

    def _configure(self, bus: MotorBus) -> None:
        cfg = self.config
        for name in self.motor_names:
            self.ensure_register(bus, "Return_Delay_Time", name, 0)
            self.ensure_register(bus, "Operating_Mode", name, 0)
            self.ensure_register(bus, "P_Coefficient", name, cfg.p_coefficient)
            self.ensure_register(bus, "I_Coefficient", name, 0)
            self.ensure_register(bus, "D_Coefficient", name, 32)
            if "Maximum_Acceleration" in bus.motors[name].spec.registers:
                self.ensure_register(bus, "Maximum_Acceleration", name, 254)
            bus.write("Acceleration", name, 254)
        gripper = self.spec.gripper_name
        if gripper is not None:
            self.ensure_register(
                bus, "Max_Torque_Limit", gripper, round(cfg.gripper_max_torque_pct * 10)
            )
            self.ensure_register(bus, "Protection_Current", gripper, cfg.gripper_protection_current)
            self.ensure_register(bus, "Overload_Torque", gripper, cfg.gripper_overload_torque_pct)
