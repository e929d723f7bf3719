"""Revert the newest session of logged EEPROM writes on a port (``bricobot eeprom-undo``).

Writes are undone newest first, so before each undo the servo is as that write left it: an ``ID``
write is undone by talking to the new id, a ``Baud_Rate`` write at the new rate. The undo writes
are themselves logged (in a session of their own), so an undo can be undone.
"""

from __future__ import annotations

from bricobot.motors.bus import Motor, MotorBus
from bricobot.motors.eeprom_log import (
    EepromJournalError,
    EepromWrite,
    journal_path,
    last_session,
    new_session_id,
    read_journal,
)
from bricobot.motors.eeprom_log import describe as describe_write
from bricobot.motors.tables import model_spec


def writes_to_undo(port: str) -> list[EepromWrite]:
    """The newest session's writes on ``port``, oldest first; an error names the journal."""
    entries = read_journal()
    session = last_session(entries, port)
    if not session:
        ports = sorted({e.port for e in entries})
        known = f"; ports with logged writes: {', '.join(ports)}" if ports else ""
        raise EepromJournalError(f"no EEPROM write on {port} is logged in {journal_path()}{known}")
    return session


def undo_writes(writes: list[EepromWrite]) -> list[str]:
    """Write each old value back, newest first; returns one line per undone write."""
    done = []
    session = new_session_id()
    for entry in reversed(writes):
        servo_id = entry.new if entry.register == "ID" else entry.id
        baudrate = entry.baudrate
        if entry.register == "Baud_Rate":
            baudrate = model_spec(entry.model).baud_codes.get(entry.new, entry.baudrate)
        bus = _bus(entry, servo_id, baudrate)
        bus.session_id = session
        bus.connect(check_models=False)
        try:
            if entry.register in ("ID", "Baud_Rate"):  # the motor answers elsewhere afterwards
                bus.disable_torque([entry.motor])
                bus.write(entry.register, entry.motor, entry.old)
            else:
                with bus.torque_disabled([entry.motor]):
                    bus.write(entry.register, entry.motor, entry.old)
        finally:
            bus.close()
        done.append(f"undone: {describe_write(entry)} (now {entry.old} again)")
    return done


def _bus(entry: EepromWrite, servo_id: int, baudrate: int) -> MotorBus:
    motor = Motor(entry.motor, servo_id, entry.model)
    name = f"{entry.bus} (undo)"
    if entry.family == "feetech":
        from bricobot.motors.feetech import FeetechBus

        return FeetechBus(entry.port, [motor], baudrate, name=name)
    from bricobot.motors.dynamixel import DynamixelBus

    return DynamixelBus(entry.port, [motor], baudrate, name=name)
