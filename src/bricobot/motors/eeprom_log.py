"""A journal of every servo EEPROM write (old → new value), and its undo.

EEPROM holds what makes an arm itself: ids, baud rates, homing offsets, drive modes, position
limits. A wrong write (another arm's calibration file, a calibration cut short) silently changes
how the arm reads its joints, and the old values are gone. So :class:`MotorBus.write` reads the old
value before each EEPROM write and appends one JSON line here; ``bricobot eeprom-undo`` writes the
old values of the latest session on a port back, newest first.

The journal lives in ``$BRICOBOT_STATE_DIR`` (else ``$XDG_STATE_HOME/bricobot``, else
``~/.local/state/bricobot``) as ``eeprom_writes.jsonl``: append-only, one line per write, so a
crash loses at most the line being written.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bricobot.errors import BricobotError

if TYPE_CHECKING:
    from bricobot.motors.bus import MotorBus

JOURNAL_NAME = "eeprom_writes.jsonl"


class EepromJournalError(BricobotError):
    """The journal cannot be read or has nothing to undo; the message names the file."""


def state_dir() -> Path:
    """Folder for bricobot's per-user state (the EEPROM journal)."""
    if os.environ.get("BRICOBOT_STATE_DIR"):
        return Path(os.environ["BRICOBOT_STATE_DIR"])
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "bricobot"


def journal_path() -> Path:
    return state_dir() / JOURNAL_NAME


@dataclass
class EepromWrite:
    """One EEPROM write: where, which register, the value before and after."""

    time: str
    session: str  # one id per connected bus: an undo reverts one session
    port: str
    bus: str
    family: str
    baudrate: int
    motor: str
    id: int
    model: str
    register: str
    old: int
    new: int


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def record_write(bus: MotorBus, motor: str, register: str, old: int, new: int) -> None:
    """Append one write to the journal; a journal that cannot be written is a warning, not a stop."""
    m = bus.motors[motor]
    entry = EepromWrite(
        time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        session=bus.session_id,
        port=bus.port,
        bus=bus.name,
        family=bus.family,
        baudrate=bus.baudrate,
        motor=motor,
        id=m.id,
        model=m.model,
        register=register,
        old=int(old),
        new=int(new),
    )
    path = journal_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(asdict(entry)) + "\n")
    except OSError as exc:
        import logging

        logging.getLogger(__name__).warning(
            "could not log the EEPROM write %s of %s to %s (%s); set BRICOBOT_STATE_DIR to a "
            "writable folder to keep an undo record",
            register,
            motor,
            path,
            exc,
        )


def read_journal(path: Path | None = None) -> list[EepromWrite]:
    """Every logged write, oldest first; a torn last line (crash while writing) is skipped."""
    path = path or journal_path()
    if not path.is_file():
        return []
    entries = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        try:
            entries.append(EepromWrite(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            if number == len(lines):
                continue  # torn by a crash mid-append
            raise EepromJournalError(
                f"{path} line {number} is not an EEPROM write record ({exc}); fix or delete that line"
            ) from None
    return entries


def last_session(entries: list[EepromWrite], port: str) -> list[EepromWrite]:
    """The writes of the newest session on ``port`` (undo records included), oldest first."""
    on_port = [e for e in entries if e.port == port]
    if not on_port:
        return []
    session = on_port[-1].session
    return [e for e in on_port if e.session == session]


def describe(entry: EepromWrite) -> str:
    return (
        f"{entry.time} {entry.bus} {entry.motor} (id {entry.id}) {entry.register}: "
        f"{entry.old} → {entry.new}"
    )
