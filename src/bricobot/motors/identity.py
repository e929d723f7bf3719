"""Which arm a calibration file belongs to, checked before its values go into servo EEPROM.

Two SO-101 arms have the same ids and models; what tells them apart is what calibration wrote into
each servo (homing offset, drive mode, position limits) and, where there is one, the USB adapter's
serial number. ``bricobot calibrate`` records both in the file (``identity``). On connect,
:func:`ensure_calibration_on_servos` compares the servos' present EEPROM with the file:

- equal: nothing is written (EEPROM wears out, and there is nothing to do);
- different: the file was made for another arm, or this arm's servos were reset or replaced.
  Writing would replace this arm's own calibration, so it is refused with the differences and the
  two ways out (the right file, or the setting that confirms the write). Confirmed writes are logged
  with their old values (``motors/eeprom_log.py``) and can be undone with ``bricobot eeprom-undo``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bricobot.motors.calibration import (
    CalibrationError,
    MotorCalibration,
    apply_calibration,
    calibration_registers,
)
from bricobot.motors.ports import port_usb_serial

if TYPE_CHECKING:
    from bricobot.motors.bus import MotorBus

log = logging.getLogger(__name__)

#: Differences listed in the refusal before "… and N more".
SHOWN_DIFFERENCES = 4


class ArmIdentityError(CalibrationError):
    """A calibration file does not match the servos it would be written to."""


def eeprom_fingerprint(values: dict[tuple[str, str], int]) -> str:
    """A short stable hash of ``(motor, register) → value``."""
    rows = sorted(f"{motor}.{register}={value}" for (motor, register), value in values.items())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def read_eeprom(bus: MotorBus, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Present values of ``(motor, register)`` read from the servos."""
    return {(motor, register): bus.read(register, motor) for motor, register in keys}


def read_identity(bus: MotorBus, calibration: dict[str, MotorCalibration]) -> dict[str, Any]:
    """What identifies the arm on ``bus`` now: ids and models, calibration EEPROM and its
    fingerprint, the USB serial. Stored in the calibration file by ``bricobot calibrate``."""
    present = read_eeprom(bus, list(calibration_registers(bus, calibration)))
    eeprom: dict[str, dict[str, int]] = {}
    for (motor, register), value in present.items():
        eeprom.setdefault(motor, {})[register] = value
    return {
        "motors": {n: {"id": m.id, "model": m.model} for n, m in bus.motors.items()},
        "eeprom": eeprom,
        "eeprom_fingerprint": eeprom_fingerprint(present),
        "usb_serial": port_usb_serial(bus.port),
    }


def ensure_calibration_on_servos(
    bus: MotorBus,
    calibration: dict[str, MotorCalibration],
    calibration_file: Path,
    identity: dict[str, Any] | None,
    allow_write: bool,
    setting_prefix: str,
) -> bool:
    """Make the servos hold ``calibration``; write EEPROM only when allowed. True if it wrote.

    ``setting_prefix`` is the config group the user sets (``robot`` / ``teleop``), named in the
    refusal together with ``<prefix>.write_calibration=true``.
    """
    wanted = calibration_registers(bus, calibration)
    present = read_eeprom(bus, list(wanted))
    differences = [key for key, value in wanted.items() if present[key] != value]
    if not differences:
        return False
    if not allow_write:
        raise ArmIdentityError(
            _refusal(bus, calibration_file, identity, wanted, present, differences, setting_prefix)
        )
    log.warning(
        "writing %s to the servos of %s on %s (%d value(s) differ); undo with "
        "`bricobot eeprom-undo port=%s`",
        calibration_file,
        bus.name,
        bus.port,
        len(differences),
        bus.port,
    )
    apply_calibration(bus, calibration)
    return True


def _refusal(
    bus: MotorBus,
    calibration_file: Path,
    identity: dict[str, Any] | None,
    wanted: dict[tuple[str, str], int],
    present: dict[tuple[str, str], int],
    differences: list[tuple[str, str]],
    prefix: str,
) -> str:
    shown = [
        f"{motor} {register} servo {present[(motor, register)]} / file {wanted[(motor, register)]}"
        for motor, register in differences[:SHOWN_DIFFERENCES]
    ]
    more = len(differences) - len(shown)
    listed = "; ".join(shown) + (f"; and {more} more" if more else "")
    serial_now = port_usb_serial(bus.port)
    serial_then = (identity or {}).get("usb_serial", "")
    adapter = (
        f" The file was made through USB adapter {serial_then}, this port is adapter {serial_now}."
        if serial_then and serial_now and serial_then != serial_now
        else ""
    )
    return (
        f"{calibration_file} does not match the servos of {bus.name} on {bus.port} ({listed}).{adapter} "
        f"Writing it would replace this arm's own calibration in servo EEPROM. If the file belongs "
        f"to another arm, set {prefix}.calibration_path to this arm's file or calibrate it with "
        f"`bricobot calibrate`; if it is this arm's file (servos reset or replaced), add "
        f"{prefix}.write_calibration=true to write it (logged; undo with "
        f"`bricobot eeprom-undo port={bus.port}`)."
    )


def identity_summary(identity: dict[str, Any] | None) -> str:
    """One line for `bricobot calibrate` output and logs."""
    if not identity:
        return "no identity recorded (file made before bricobot recorded one)"
    serial = identity.get("usb_serial") or "none"
    return f"EEPROM fingerprint {identity.get('eeprom_fingerprint')}, USB serial {serial}"
