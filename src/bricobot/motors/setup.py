"""Bring-up tools: scan a port at every baud rate, and give one new motor its id and baud rate.

New servos all ship with id 1 (and Dynamixel at 57,600 baud), so ids are assigned one motor at a
time, with only that motor on the bus. Both tools use the broadcast ping, so a scan of one baud
rate takes a few milliseconds instead of 252 single pings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.motors.bus import Motor, MotorBus
from bricobot.motors.errors import DuplicateIdError, MotorBusError, MotorNotFoundError
from bricobot.motors.tables import DYNAMIXEL_BAUD_CODES, FEETECH_BAUD_CODES, model_by_number

#: Reply budget of one request (s): a servo answers within a millisecond; the rest is USB latency.
#: A broadcast ping listens twice as long for every servo's reply.
REPLY_TIMEOUT_S = 0.01


def _bus(family: str, port: str, baudrate: int, timeout_s: float) -> MotorBus:
    bus: MotorBus
    if family == "feetech":
        from bricobot.motors.feetech import FeetechBus

        bus = FeetechBus(port, [], baudrate, timeout_s=timeout_s)
    elif family == "dynamixel":
        from bricobot.motors.dynamixel import DynamixelBus

        bus = DynamixelBus(port, [], baudrate, timeout_s=timeout_s)
    else:
        raise ValueError(f"bus family {family!r} must be 'feetech' or 'dynamixel'")
    bus.timeout_setting = "reply_timeout_s"  # the key of `bricobot scan` and `setup-motors`
    return bus


def baudrates(family: str) -> list[int]:
    return list((FEETECH_BAUD_CODES if family == "feetech" else DYNAMIXEL_BAUD_CODES).values())


@dataclass
class ScanEntry:
    """One servo found by a scan."""

    baudrate: int
    id: int
    model_number: int
    model: str
    firmware: str = ""
    voltage_v: float | None = None
    temperature_c: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    port: str
    entries: list[ScanEntry]
    garbled: dict[int, int]  # baud rate → garbled replies (likely duplicate ids)


def scan_port(
    port: str, family: str, rates: list[int] | None = None, timeout_s: float = REPLY_TIMEOUT_S
) -> ScanResult:
    """Every servo on ``port`` at each baud rate, with model, firmware, voltage, temperature, errors.
    ``timeout_s``: reply budget of a request (a broadcast ping listens twice as long)."""
    bus = _bus(family, port, (rates or baudrates(family))[0], timeout_s)
    bus.open_port()
    entries: list[ScanEntry] = []
    garbled: dict[int, int] = {}
    try:
        for rate in rates or baudrates(family):
            bus._set_baudrate(rate)
            found, bad = bus.broadcast_ping(wait_s=2 * timeout_s)
            if bad:
                garbled[rate] = bad
            for servo_id, number in sorted(found.items()):
                spec = model_by_number(family, number)
                entry = ScanEntry(rate, servo_id, number, spec.name if spec else "unknown")
                if spec is not None:
                    _fill_details(bus, entry, Motor(f"id{servo_id}", servo_id, spec.name))
                entries.append(entry)
    finally:
        bus.close()
    return ScanResult(port, entries, garbled)


def _fill_details(bus: MotorBus, entry: ScanEntry, motor: Motor) -> None:
    bus.motors = {motor.name: motor}
    bus._connected = True
    try:
        regs = motor.spec.registers
        if "Firmware_Version" in regs:
            entry.firmware = str(bus.read("Firmware_Version", motor.name))
        else:
            major = bus.read("Firmware_Major_Version", motor.name)
            entry.firmware = f"{major}.{bus.read('Firmware_Minor_Version', motor.name)}"
        health = bus.read_health([motor.name])[motor.name]
        entry.voltage_v, entry.temperature_c = health.voltage_v, health.temperature_c
        entry.errors = health.errors
    except MotorBusError as exc:
        entry.errors = [f"could not read details: {exc}"]
    finally:
        bus._connected = False
        bus.motors = {}


def setup_motor(
    port: str,
    family: str,
    model: str,
    new_id: int,
    new_baudrate: int,
    name: str = "motor",
    timeout_s: float = REPLY_TIMEOUT_S,
) -> ScanEntry:
    """Find the single motor on ``port`` at any baud rate, give it ``new_id`` and ``new_baudrate``,
    and read both back. Raises naming the problem (none found, several found, wrong model)."""
    result = scan_port(port, family, timeout_s=timeout_s)
    if not result.entries:
        hint = " Garbled replies were seen: two motors on one id?" if result.garbled else ""
        raise MotorNotFoundError(
            f"no motor answered on {port} at any baud rate ({', '.join(map(str, baudrates(family)))})."
            f"{hint} Connect only the {name} motor, check its power supply and cable, and retry.",
            port,
        )
    if len(result.entries) > 1:
        found = ", ".join(f"id {e.id} at {e.baudrate} baud" for e in result.entries)
        raise DuplicateIdError(
            f"{len(result.entries)} motors answer on {port} ({found}); connect only the {name} "
            f"motor while setting it up.",
            port,
        )
    entry = result.entries[0]
    if entry.model != model:
        raise MotorBusError(
            f"the motor on {port} is a {entry.model} (model number {entry.model_number}), but "
            f"{name} should be a {model}; fit the right servo or fix motors.yaml.",
            port,
        )
    bus = _bus(family, port, entry.baudrate, timeout_s)
    motor = Motor(name, entry.id, model)
    bus.motors = {name: motor}
    bus.open_port()
    bus._connected = True
    try:
        bus.disable_torque([name])
        code = motor.spec.baud_code(new_baudrate)
        if entry.id != new_id:
            bus.write("ID", name, new_id)
        bus.motors = {name: Motor(name, new_id, model)}
        if entry.baudrate != new_baudrate:
            bus.write("Baud_Rate", name, code)
            bus._set_baudrate(new_baudrate)
        number = bus.ping(new_id)
        if number is None or bus.read("ID", name) != new_id:
            raise MotorBusError(
                f"{name}: wrote id {new_id} at {new_baudrate} baud but the motor does not answer "
                f"there; power-cycle it and run `bricobot scan port={port}`.",
                port,
            )
    finally:
        bus.close()
    return ScanEntry(new_baudrate, new_id, entry.model_number, model, entry.firmware)
