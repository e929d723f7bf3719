"""One lifecycle for every calibrated arm on a servo bus (follower robots and leader arms).

Connect = load the calibration file → open the bus and check every motor answers with its model →
torque off → make the servos hold the file's calibration (refused when they hold another arm's,
see :mod:`bricobot.motors.identity`) → hand the bus, calibrated, to the caller. Followers then
configure and enable torque; leaders stay limp. Both share this function so the checks cannot
drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bricobot.motors.bus import MotorBus
from bricobot.motors.calibration import (
    CalibrationError,
    MotorCalibration,
    load_calibration,
    load_identity,
)
from bricobot.motors.identity import ensure_calibration_on_servos
from bricobot.motors.spec import RobotMotorsSpec, make_bus


@dataclass
class ArmConnection:
    """Where an arm is and how to talk to it; ``setting_prefix`` is its config group (robot/teleop)."""

    spec: RobotMotorsSpec
    port: str
    calibration_file: Path
    name: str
    setting_prefix: str
    timeout_s: float | None = None
    retries: int = 3
    #: Write the file's calibration even when the servos hold different values (user-confirmed).
    write_calibration: bool = False


def connect_calibrated_arm(arm: ArmConnection) -> tuple[MotorBus, dict[str, MotorCalibration]]:
    """Open, check and calibrate the arm's bus with torque off: ``(bus, {motor: calibration})``.

    The bus is closed again on any error; errors name the file, port or motor and the fix.
    """
    if not arm.port:
        raise ValueError(
            f"{arm.name}: set {arm.setting_prefix}.port to the arm's serial port "
            "(`bricobot find-port`), or to the port printed by `bricobot virtual-arm`"
        )
    calibration = load_calibration(arm.calibration_file)
    identity = load_identity(arm.calibration_file)
    check_calibration_covers(arm.spec, calibration, arm.calibration_file)
    bus = make_bus(arm.spec, arm.port, timeout_s=arm.timeout_s, retries=arm.retries, name=arm.name)
    bus.connect()
    try:
        bus.disable_torque()
        check_ids_match(bus, calibration, arm)
        mine = {m.name: calibration[m.name] for m in arm.spec.motors}
        ensure_calibration_on_servos(
            bus, mine, arm.calibration_file, identity, arm.write_calibration, arm.setting_prefix
        )
        bus.calibration = mine
    except BaseException:
        bus.close()
        raise
    return bus, calibration


def check_calibration_covers(
    spec: RobotMotorsSpec, calibration: dict[str, MotorCalibration], calibration_file: Path
) -> None:
    missing = [m.name for m in spec.motors if m.name not in calibration]
    if missing:
        raise CalibrationError(
            f"{calibration_file} has no calibration for {missing}; recalibrate this arm with "
            "`bricobot calibrate`"
        )


def check_ids_match(
    bus: MotorBus, calibration: dict[str, MotorCalibration], arm: ArmConnection
) -> None:
    """Every motor calibrated under the id and model it has on this bus."""
    for name, motor in bus.motors.items():
        cal = calibration[name]
        if (cal.id, cal.model) != (motor.id, motor.model):
            raise CalibrationError(
                f"{arm.calibration_file}: {name!r} is calibrated as id {cal.id} ({cal.model}) but "
                f"this arm has {motor.label()} ({motor.model}); is this the right file for the arm "
                f"on {arm.port}?"
            )
