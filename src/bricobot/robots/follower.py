"""What every serial-servo follower arm shares: bus, calibration, safety, cameras, torque on exit.

:class:`ServoFollower` is the real-arm :class:`~bricobot.robots.base.Robot`; ``so101.py`` and
``koch.py`` only add their servo settings. The same code drives a real arm and the virtual arm
(``bricobot virtual-arm``): only ``port`` differs.

Connect: open the bus (every id must answer with the model in ``motors.yaml``), load the calibration
file and make sure the servos hold it, write the servo settings with torque off, set every goal to
the present position, and only then enable torque, so the arm never lurches towards a stale goal.
Cameras connect last.

Every action goes through :class:`~bricobot.robots.safety.ActionSafety` (exact keys, finite values,
calibrated joint ranges, a per-step motion cap relative to the last measured position) before a
single byte is written; ``send_action`` returns what was sent, ``last_clipped`` what was clipped.

Disconnect leaves torque as ``torque_on_exit`` says: ``"hold"`` (stay powered, holding the pose),
``"park"`` (move slowly to ``park_positions`` then release) or ``"release"`` (limp at once).
:meth:`ServoFollower.release_torque` releases immediately (a second Ctrl-C).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricobot.cameras.base import Camera
from bricobot.cameras.building import make_cameras, read_frame
from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.motors.arm import ArmConnection, connect_calibrated_arm
from bricobot.motors.bus import MotorBus
from bricobot.motors.calibration import MotorCalibration
from bricobot.motors.spec import RobotMotorsSpec, load_motors_spec
from bricobot.robots.base import FeatureSpec, Robot
from bricobot.robots.safety import ActionSafety, Clip

logger = logging.getLogger(__name__)

TORQUE_ON_EXIT = ("hold", "park", "release")
#: Control rate used while parking (Hz); each step moves at most the configured max step.
PARK_RATE_HZ = 30.0
#: Parking ends when every joint is this close to its park position (degrees or percent).
PARK_TOLERANCE = 3.0


def default_calibration_path(robot_type: str, name: str = "") -> Path:
    """Where `bricobot calibrate` writes by default: ``calibration/<robot_type>.json``.

    An arm with a non-default name (e.g. the two arms of a bimanual robot) gets
    ``calibration/<robot_type>_<name>.json``.
    """
    default_names = ("", "follower", "leader")
    stem = robot_type if name in default_names else f"{robot_type}_{name}"
    return Path("calibration") / f"{stem}.json"


def calibration_file_for(robot_type: str, name: str, calibration_path: str) -> Path:
    """The configured calibration file, or the default one `bricobot calibrate` writes."""
    if calibration_path:
        return Path(calibration_path).expanduser()
    return default_calibration_path(robot_type, name)


@dataclass
class FollowerConfig:
    """Settings every follower arm has; subclasses set ``type`` and the robot-specific defaults."""

    type: str = ""
    # Serial port; prefer /dev/serial/by-id/... (stable across replugging). The virtual arm prints one.
    port: str = ""
    name: str = "follower"  # used in messages and in the default calibration file name
    # Camera name → camera config (a camera preset, or a mapping with a "type" key).
    cameras: dict[str, Any] = field(default_factory=dict)
    # Calibration file from `bricobot calibrate`; "" = calibration/<robot_type>.json (its default).
    calibration_path: str = ""
    # Write the calibration file to servos that hold different values (another arm's file is
    # refused otherwise); every EEPROM write is logged and `bricobot eeprom-undo` reverts it.
    write_calibration: bool = False
    motors_file: str = ""  # "" = hardware/<robot>/motors.yaml shipped with bricobot
    # Largest move per action away from the measured position; None turns the cap off (not advised).
    max_step_deg: float | None = 8.0
    max_step_gripper_pct: float | None = 30.0
    torque_on_exit: str = "park"  # hold | park | release
    park_positions: dict[str, float] = field(default_factory=dict)  # degrees (gripper: percent)
    park_timeout_s: float = 4.0
    read_retries: int = 2  # extra attempts for a read that got no or a corrupted reply
    reply_timeout_s: float = 0.02  # wait for a servo reply beyond its transmission time

    def __post_init__(self) -> None:
        if self.torque_on_exit not in TORQUE_ON_EXIT:
            raise ValueError(
                f"torque_on_exit must be one of {', '.join(TORQUE_ON_EXIT)}, got {self.torque_on_exit!r}"
            )
        for name in ("max_step_deg", "max_step_gripper_pct"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, got {value}")
        if self.read_retries < 0:
            raise ValueError(f"read_retries must be >= 0, got {self.read_retries}")
        if not self.reply_timeout_s > 0:
            raise ValueError(f"reply_timeout_s must be > 0, got {self.reply_timeout_s}")
        if not self.park_timeout_s > 0:
            raise ValueError(f"park_timeout_s must be > 0, got {self.park_timeout_s}")
        if not isinstance(self.cameras, dict):
            raise ValueError("cameras must map camera names to camera configs")


class ServoFollower(Robot):
    """A follower arm on one servo bus, with cameras. Subclasses set the class attributes below."""

    #: Folder under hardware/ holding motors.yaml and the MJCF.
    hardware_folder: str = ""

    def __init__(self, config: FollowerConfig, cameras: dict[str, Camera] | None = None) -> None:
        """``cameras``: ready-made cameras added to those of ``config.cameras`` (e.g. a SimCamera
        rendering the in-process virtual arm, from :meth:`VirtualArm.sim_camera`)."""
        super().__init__()
        self.config = config
        self.spec: RobotMotorsSpec = load_motors_spec(config.motors_file or self.hardware_folder)
        self.cameras: dict[str, Camera] = make_cameras(config.cameras)
        for name, camera in (cameras or {}).items():
            if name in self.cameras:
                raise ValueError(f"camera {name!r} is both in the config and passed in; rename one")
            camera.name = name
            self.cameras[name] = camera
        self.bus: MotorBus | None = None
        self.calibration: dict[str, MotorCalibration] = {}
        self.safety: ActionSafety | None = None
        #: What the last send_action clipped (key → Clip); empty when nothing was.
        self.last_clipped: dict[str, Clip] = {}
        self._present: dict[str, float] = {}
        self._present_fresh = False
        self._connected = False

    # --- features ------------------------------------------------------------------------------

    @property
    def motor_names(self) -> list[str]:
        return [m.name for m in self.spec.motors]

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{name}.pos": float for name in self.motor_names}

    @property
    def observation_features(self) -> FeatureSpec:
        features: FeatureSpec = dict(self.action_features)
        for name, camera in self.cameras.items():
            features[name] = tuple(camera.shape)
        return features

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def calibration_file(self) -> Path:
        return calibration_file_for(self.robot_type, self.config.name, self.config.calibration_path)

    def describe(self) -> str:
        return f"{self.robot_type} {self.config.name!r} on {self.config.port or '(no port)'}"

    def arm_connection(self, setting_prefix: str) -> ArmConnection:
        """How to reach and check this arm (``setting_prefix``: its config group in messages)."""
        return ArmConnection(
            spec=self.spec,
            port=self.config.port,
            calibration_file=self.calibration_file,
            name=f"{self.robot_type} {self.config.name!r}",
            setting_prefix=setting_prefix,
            timeout_s=self.config.reply_timeout_s,
            retries=self.config.read_retries,
            write_calibration=self.config.write_calibration,
        )

    # --- connect -------------------------------------------------------------------------------

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self.describe()} is already connected")
        bus, self.calibration = connect_calibrated_arm(self.arm_connection("robot"))
        try:
            self._configure(bus)
            # Goal = present position BEFORE torque goes on: the arm stays where it is.
            bus.enable_torque(hold_position=True)
            self.bus = bus
            self.safety = self._make_safety()
            self._present = bus.read_positions()
            self._present_fresh = True
            for camera in self.cameras.values():
                camera.connect()
        except BaseException:
            with contextlib.suppress(Exception):
                bus.disable_torque()
            for camera in self.cameras.values():
                if camera.is_connected:
                    with contextlib.suppress(Exception):
                        camera.disconnect()
            bus.close()
            self.bus = None
            raise
        self._connected = True

    def _configure(self, bus: MotorBus) -> None:
        """Write the servo settings this arm needs (torque is off). Subclasses extend."""

    @staticmethod
    def ensure_register(bus: MotorBus, register: str, motor: str, value: int) -> None:
        """Write ``register`` only when it differs (EEPROM wears out)."""
        if bus.read(register, motor) != value:
            bus.write(register, motor, value)

    def _make_safety(self) -> ActionSafety:
        limits: dict[str, tuple[float, float]] = {}
        steps: dict[str, float] = {}
        for name in self.motor_names:
            cal = self.calibration[name]
            key = f"{name}.pos"
            if cal.gripper:
                limits[key] = (0.0, 100.0)
                if self.config.max_step_gripper_pct is not None:
                    steps[key] = self.config.max_step_gripper_pct
            else:
                limits[key] = cal.range_deg
                if self.config.max_step_deg is not None:
                    steps[key] = self.config.max_step_deg
        return ActionSafety(list(self.action_features), limits=limits, max_step=steps)

    # --- observe / act -------------------------------------------------------------------------

    def _require(self) -> MotorBus:
        if not self._connected or self.bus is None:
            raise DeviceNotConnectedError(f"{self.describe()} is not connected; call connect()")
        return self.bus

    def read_joint_positions(self) -> dict[str, float]:
        """Joint positions in degrees (gripper: percent open), read from the servos now."""
        bus = self._require()
        positions = bus.read_positions(self.motor_names)
        self._present = positions
        self._present_fresh = True
        return positions

    def get_observation(self) -> dict[str, Any]:
        start_s = time.monotonic()
        positions = self.read_joint_positions()
        end_s = time.monotonic()
        observation: dict[str, Any] = {f"{name}.pos": value for name, value in positions.items()}
        capture_times = {"observation.state": (start_s + end_s) / 2}
        for name, camera in self.cameras.items():
            frame = read_frame(camera)
            observation[name] = frame.image
            capture_times[name] = frame.capture_time_s
        self.capture_times_s = capture_times
        return observation

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        bus = self._require()
        assert self.safety is not None
        if not self._present_fresh:
            self.read_joint_positions()
        reference = {f"{name}.pos": value for name, value in self._present.items()}
        checked = self.safety.check(action, reference)  # raises before anything is written
        goals = {key.removesuffix(".pos"): value for key, value in checked.action.items()}
        bus.write_goals(goals)
        self._present_fresh = False
        self.last_clipped = checked.clipped
        if checked.clipped:
            logger.debug("%s clipped %s", self.describe(), checked.clipped)
        return checked.action

    # --- torque and disconnect -----------------------------------------------------------------

    def release_torque(self) -> None:
        """Torque off on every motor now (the arm goes limp), then release the port and cameras.

        The fast way out (a second Ctrl-C): no parking. A no-op when not connected.
        """
        if not self._connected or self.bus is None:
            return
        bus = self.bus
        try:
            bus.disable_torque()
        finally:
            self._close_all(bus)

    def park(self) -> bool:
        """Move to ``park_positions`` within the motion cap; True once there (False on timeout)."""
        self._require()
        targets = {n: v for n, v in self.config.park_positions.items() if n in self.motor_names}
        if not targets:
            return True
        deadline = time.monotonic() + self.config.park_timeout_s
        period_s = 1.0 / PARK_RATE_HZ
        while time.monotonic() < deadline:
            present = self.read_joint_positions()
            if all(abs(present[n] - v) <= PARK_TOLERANCE for n, v in targets.items()):
                return True
            action = {f"{n}.pos": targets.get(n, present[n]) for n in self.motor_names}
            self.send_action(action)
            time.sleep(period_s)
        logger.warning(
            "%s: did not reach the park pose in %.1f s", self.describe(), self.config.park_timeout_s
        )
        return False

    def disconnect(self) -> None:
        bus = self._require()
        try:
            mode = self.config.torque_on_exit
            if mode == "park":
                self.park()
            if mode in ("park", "release"):
                bus.disable_torque()
        except BaseException as exc:  # a failed park, a bus error, or Ctrl-C while parking
            with contextlib.suppress(Exception):
                bus.disable_torque()
            self._close_all(bus)
            if not isinstance(exc, Exception):
                raise
            logger.warning(
                "%s: torque on exit (%s) failed, torque released: %s",
                self.describe(),
                self.config.torque_on_exit,
                exc,
            )
            return
        self._close_all(bus)

    def _close_all(self, bus: MotorBus) -> None:
        for name, camera in self.cameras.items():
            if camera.is_connected:
                try:
                    camera.disconnect()
                except Exception as exc:
                    logger.warning("%s: camera %r: %s", self.describe(), name, exc)
        bus.close()
        self.bus = None
        self._connected = False
