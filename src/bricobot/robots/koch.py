"""Koch v1.1 follower arm: Dynamixel XL430-W250 (ids 1–2) and XL330-M288 (ids 3–6), and its cameras.

Everything but the servo settings lives in :mod:`bricobot.robots.follower`. Settings written on
connect (torque off, only when they differ): return delay 0; extended position mode on the joints
(no 0/4095 seam; safety limits the range in software); current-based position mode on the gripper
with a current limit, so squeezing an object holds it without burning the servo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.cameras.base import Camera
from bricobot.motors.bus import MotorBus
from bricobot.robots.follower import FollowerConfig, ServoFollower

EXTENDED_POSITION = 4
CURRENT_BASED_POSITION = 5


def _koch_park() -> dict[str, float]:
    # Upper arm tilted back, forearm folded down onto it, wrist tucked: rests on its own when limp.
    return {
        "shoulder_pan": 0.0,
        "shoulder_lift": -10.0,
        "elbow_flex": 80.0,
        "wrist_flex": 60.0,
        "wrist_roll": 0.0,
        "gripper": 0.0,
    }


@dataclass
class KochFollowerConfig(FollowerConfig):
    """A Koch v1.1 follower on a Dynamixel bus."""

    type: str = "koch"
    park_positions: dict[str, float] = field(default_factory=_koch_park)
    gripper_current_limit: int = 500  # Current_Limit / Goal_Current of the gripper (raw units)

    def __post_init__(self) -> None:
        if self.type != "koch":
            raise ValueError(f"type must be 'koch', got {self.type!r}")
        super().__post_init__()
        if self.gripper_current_limit <= 0:
            raise ValueError(f"gripper_current_limit must be > 0, got {self.gripper_current_limit}")


class KochFollower(ServoFollower):
    """The Koch v1.1 follower arm; see :mod:`bricobot.robots.follower` for the behaviour."""

    robot_type = "koch_follower"
    hardware_folder = "koch"
    config: KochFollowerConfig

    def __init__(
        self, config: KochFollowerConfig, cameras: dict[str, Camera] | None = None
    ) -> None:
        super().__init__(config, cameras)

    def _configure(self, bus: MotorBus) -> None:
        gripper = self.spec.gripper_name
        for name in self.motor_names:
            self.ensure_register(bus, "Return_Delay_Time", name, 0)
            mode = CURRENT_BASED_POSITION if name == gripper else EXTENDED_POSITION
            self.ensure_register(bus, "Operating_Mode", name, mode)
        if gripper is not None:
            self.ensure_register(bus, "Current_Limit", gripper, self.config.gripper_current_limit)
            bus.write("Goal_Current", gripper, self.config.gripper_current_limit)
