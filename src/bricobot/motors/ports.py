"""Serial ports: list them (with stable by-id paths), find the one that disappeared, check access."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from bricobot.motors.errors import PERMISSION_FIX


@dataclass(frozen=True)
class PortInfo:
    device: str
    by_id: str = ""  # /dev/serial/by-id/... link, stable across replugging
    description: str = ""


def list_serial_ports() -> list[PortInfo]:
    """USB serial adapters (ttyACM*, ttyUSB*, macOS cu.*), with their by-id link when present."""
    by_id = {}
    for link in glob.glob("/dev/serial/by-id/*"):
        by_id[os.path.realpath(link)] = link
    try:
        from serial.tools import list_ports

        found = {p.device: (p.description or "") for p in list_ports.comports()}
    except Exception:  # pragma: no cover - pyserial without tools
        found = {}
    for pattern in ("/dev/ttyACM*", "/dev/ttyUSB*", "/dev/cu.usb*"):
        for device in glob.glob(pattern):
            found.setdefault(device, "")
    return [
        PortInfo(d, by_id.get(os.path.realpath(d), ""), desc)
        for d, desc in sorted(found.items())
        if not d.startswith("/dev/ttyS")
    ]


def port_usb_serial(port: str) -> str:
    """The USB serial number of the adapter behind ``port`` ("" when there is none or no USB)."""
    try:
        from serial.tools import list_ports

        ports = list_ports.comports()
    except Exception:  # pragma: no cover - pyserial without tools
        return ""
    real = os.path.realpath(port)
    for info in ports:
        if os.path.realpath(info.device) == real:
            return info.serial_number or ""
    return ""


def removed_port(before: list[PortInfo], after: list[PortInfo]) -> PortInfo:
    """The single port present before and gone after; ValueError explains anything else."""
    gone = [p for p in before if p.device not in {a.device for a in after}]
    if len(gone) == 1:
        return gone[0]
    if not gone:
        raise ValueError(
            "no serial port disappeared: unplug the arm's USB cable (not only its power) and retry"
        )
    raise ValueError(
        f"{len(gone)} ports disappeared ({', '.join(p.device for p in gone)}): unplug only one arm"
    )


def port_access_problem(port: str) -> str | None:
    """None when this user can open ``port`` read-write, else the problem and the exact fix."""
    if not os.path.exists(port):
        return f"{port} does not exist; run `bricobot find-port`"
    if not os.access(port, os.R_OK | os.W_OK):
        return f"no read/write permission on {port}. Fix: {PERMISSION_FIX}"
    return None
