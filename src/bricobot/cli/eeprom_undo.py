"""``bricobot eeprom-undo``: put back the servo EEPROM values the newest session on a port changed.

Every EEPROM write bricobot makes (calibration, setup-motors, a confirmed
``robot.write_calibration=true``) is logged with its old value in
``$BRICOBOT_STATE_DIR/eeprom_writes.jsonl`` (default ``~/.local/state/bricobot``).

Example::

    bricobot eeprom-undo port=/dev/ttyACM0 dry_run=true   # show what would be written back
    bricobot eeprom-undo port=/dev/ttyACM0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bricobot.cli.app import CommandLineError, run_command


@dataclass
class EepromUndoCommandConfig:
    #: the arm's serial port, as the writes were logged (see `bricobot find-port`)
    port: str = ""
    #: only list the writes that would be undone
    dry_run: bool = False


def run(cfg: EepromUndoCommandConfig) -> int:
    from bricobot.motors.eeprom_log import describe, journal_path
    from bricobot.motors.eeprom_undo import undo_writes, writes_to_undo

    if not cfg.port:
        raise CommandLineError(
            "give the arm's port, e.g. port=/dev/ttyACM0 (see `bricobot find-port`)"
        )
    writes = writes_to_undo(cfg.port)
    print(
        f"{len(writes)} EEPROM write(s) of session {writes[0].session} on {cfg.port} ({journal_path()}):"
    )
    for entry in writes:
        print(f"  {describe(entry)}")
    if cfg.dry_run:
        print(
            "dry run: nothing written; run again without dry_run=true to write the old values back"
        )
        return 0
    for line in undo_writes(writes):
        print(line)
    print("done; the undo itself is logged and can be undone the same way")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "eeprom-undo",
        EepromUndoCommandConfig,
        run,
        argv,
        "Write back the servo EEPROM values changed by the newest logged session on a port.",
    )
