"""Leader arms: a person moves them by hand; their joint angles are the follower's commands.

The leader is read through the same bus drivers and calibration as a follower, so both report
degrees from the same zero pose (gripper: percent open) and a policy, a dataset or a follower
sees the same numbers. Torque is off so the arm moves freely, except on the Koch leader's
gripper, which is held in current-based position mode with torque on so it springs back open
like a trigger.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.motors.arm import ArmConnection, connect_calibrated_arm
from bricobot.motors.bus import MotorBus
from bricobot.motors.calibration import MotorCalibration
from bricobot.motors.spec import RobotMotorsSpec, load_motors_spec
from bricobot.robots.base import FeatureSpec
from bricobot.robots.follower import calibration_file_for
from bricobot.teleop.base import Teleoperator

CURRENT_BASED_POSITION = 5


@dataclass
class LeaderConfig:
    """Settings every leader arm has; subclasses set ``type``."""

    type: str = ""
    # Serial port; prefer /dev/serial/by-id/... The virtual arm (role leader) prints one.
    port: str = ""
    name: str = "leader"  # used in messages and in the default calibration file name
    # Calibration file from `bricobot calibrate`; "" = calibration/<robot_type>.json.
    calibration_path: str = ""
    # Write the calibration file to servos that hold different values (refused otherwise, as
    # another arm's file would be); logged, and `bricobot eeprom-undo` reverts it.
    write_calibration: bool = False
    motors_file: str = ""  # "" = the motors file shipped for this leader under hardware/
    read_retries: int = 2
    reply_timeout_s: float = 0.02

    def __post_init__(self) -> None:
        if self.read_retries < 0:
            raise ValueError(f"read_retries must be >= 0, got {self.read_retries}")
        if not self.reply_timeout_s > 0:
            raise ValueError(f"reply_timeout_s must be > 0, got {self.reply_timeout_s}")


class ServoLeader(Teleoperator):
    """A leader arm on one servo bus; subclasses name their hardware and extra settings."""

    robot_type: str = "leader"
    #: motors file of this leader, relative to the packaged hardware/ folder.
    default_motors_file: str = ""

    def __init__(self, config: LeaderConfig) -> None:
        self.config = config
        self.spec: RobotMotorsSpec = load_motors_spec(
            config.motors_file or self._packaged_motors_file()
        )
        self.bus: MotorBus | None = None
        self.calibration: dict[str, MotorCalibration] = {}
        #: Monotonic time (s) of the last read, midway through the bus transaction.
        self.capture_time_s = 0.0

    def _packaged_motors_file(self) -> Path:
        from importlib import resources

        return Path(str(resources.files("bricobot.hardware"))) / self.default_motors_file

    @property
    def motor_names(self) -> list[str]:
        return [m.name for m in self.spec.motors]

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{name}.pos": float for name in self.motor_names}

    @property
    def is_connected(self) -> bool:
        return self.bus is not None

    @property
    def calibration_file(self) -> Path:
        return calibration_file_for(self.robot_type, self.config.name, self.config.calibration_path)

    def describe(self) -> str:
        return f"{self.robot_type} {self.config.name!r} on {self.config.port or '(no port)'}"

    def connect(self) -> None:
        if self.bus is not None:
            raise DeviceAlreadyConnectedError(f"{self.describe()} is already connected")
        bus, self.calibration = connect_calibrated_arm(
            ArmConnection(
                spec=self.spec,
                port=self.config.port,
                calibration_file=self.calibration_file,
                name=f"{self.robot_type} {self.config.name!r}",
                setting_prefix="teleop",
                timeout_s=self.config.reply_timeout_s,
                retries=self.config.read_retries,
                write_calibration=self.config.write_calibration,
            )
        )
        try:
            self._configure(bus)
        except BaseException:
            bus.close()
            raise
        self.bus = bus

    def _configure(self, bus: MotorBus) -> None:
        """Extra settings after calibration, torque off (subclasses)."""

    def read_positions(self) -> dict[str, float]:
        """Joint angles in degrees (gripper: percent open), read now."""
        if self.bus is None:
            raise DeviceNotConnectedError(f"{self.describe()} is not connected; call connect()")
        start_s = time.monotonic()
        positions = self.bus.read_positions(self.motor_names)
        self.capture_time_s = (start_s + time.monotonic()) / 2
        return positions

    def get_action(self) -> dict[str, float]:
        return {f"{name}.pos": value for name, value in self.read_positions().items()}

    def disconnect(self) -> None:
        if self.bus is None:
            raise DeviceNotConnectedError(f"{self.describe()} is not connected")
        bus, self.bus = self.bus, None
        try:
            with contextlib.suppress(Exception):
                bus.disable_torque()
        finally:
            bus.close()


@dataclass
class SO101LeaderConfig(LeaderConfig):
    """An SO-101 leader arm (Feetech STS3215, 1/147–1/345 gears) with torque off."""

    type: str = "so101_leader"

    def __post_init__(self) -> None:
        if self.type != "so101_leader":
            raise ValueError(f"type must be 'so101_leader', got {self.type!r}")
        super().__post_init__()


class SO101Leader(ServoLeader):
    """SO-101 leader arm: every joint limp, read through its calibration."""

    robot_type = "so101_leader"
    default_motors_file = "so101/motors.yaml"

    def __init__(self, config: SO101LeaderConfig) -> None:
        super().__init__(config)


@dataclass
class KochLeaderConfig(LeaderConfig):
    """A Koch leader arm (six XL330-M077); the gripper springs back to ``gripper_rest_pct``."""

    type: str = "koch_leader"
    gripper_rest_pct: float = 35.0  # where the gripper trigger returns when released (% open)
    gripper_current: int = 100  # Goal_Current of the trigger (raw units): how hard it springs back

    def __post_init__(self) -> None:
        if self.type != "koch_leader":
            raise ValueError(f"type must be 'koch_leader', got {self.type!r}")
        super().__post_init__()
        if not 0 <= self.gripper_rest_pct <= 100:
            raise ValueError(f"gripper_rest_pct must be in [0, 100], got {self.gripper_rest_pct}")
        if self.gripper_current <= 0:
            raise ValueError(f"gripper_current must be > 0, got {self.gripper_current}")


class KochLeader(ServoLeader):
    """Koch leader arm: joints limp; the gripper held in current-based position mode, torque on."""

    robot_type = "koch_leader"
    default_motors_file = "koch/motors_leader.yaml"
    config: KochLeaderConfig

    def __init__(self, config: KochLeaderConfig) -> None:
        super().__init__(config)

    def _configure(self, bus: MotorBus) -> None:
        gripper = self.spec.gripper_name
        if gripper is None:
            return
        if bus.read("Operating_Mode", gripper) != CURRENT_BASED_POSITION:
            bus.write("Operating_Mode", gripper, CURRENT_BASED_POSITION)
        bus.write("Goal_Current", gripper, self.config.gripper_current)
        bus.write_goals({gripper: self.config.gripper_rest_pct})
        bus.write("Torque_Enable", gripper, 1)
