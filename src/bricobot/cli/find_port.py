"""``bricobot find-port``: find which serial port an arm is on (list, unplug, compare).

Example::

    bricobot find-port
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bricobot.cli.app import run_command


@dataclass
class FindPortCommandConfig:
    #: ask to unplug the arm and report the port that disappeared; false: only list ports
    interactive: bool = True


def run(cfg: FindPortCommandConfig) -> int:
    from bricobot.motors.ports import list_serial_ports, removed_port

    before = list_serial_ports()
    if not before:
        print("no USB serial port found: plug the arm's controller board in (and power it)")
        return 1
    for p in before:
        print(f"{p.device}  {p.by_id or ''}  {p.description}".rstrip())
    if not cfg.interactive:
        return 0
    input("Unplug the arm's USB cable, then press Enter.")
    try:
        port = removed_port(before, list_serial_ports())
    except ValueError as exc:
        print(f"bricobot find-port: {exc}", file=sys.stderr)
        return 1
    print(f"The arm is on {port.device}")
    if port.by_id:
        print(f"Stable path (use this in configs): {port.by_id}")
    print("Plug it back in.")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "find-port",
        FindPortCommandConfig,
        run,
        argv,
        "Find which serial port an arm is plugged into.",
    )
