"""``bricobot scan``: list every servo on a port at every baud rate.

Example::

    bricobot scan port=/dev/ttyACM0 bus=feetech
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from bricobot.cli.app import run_command


@dataclass
class ScanCommandConfig:
    port: str = ""
    #: feetech (SO-100/SO-101) or dynamixel (Koch)
    bus: str = "feetech"
    #: baud rates to try; empty: every rate the bus family supports
    baudrates: list[int] = field(default_factory=list)
    #: how long a reply may take (s); raise it on a busy computer or a slow USB adapter
    reply_timeout_s: float = 0.01

    def __post_init__(self) -> None:
        if self.bus not in ("feetech", "dynamixel"):
            raise ValueError(f"bus must be 'feetech' or 'dynamixel', got {self.bus!r}")
        if not self.reply_timeout_s > 0:
            raise ValueError(f"reply_timeout_s must be > 0, got {self.reply_timeout_s}")


def format_table(result) -> str:  # type: ignore[no-untyped-def]
    rows = [("baud", "id", "model", "firmware", "voltage", "temp", "errors")]
    for e in result.entries:
        rows.append(
            (
                str(e.baudrate),
                str(e.id),
                f"{e.model} ({e.model_number})",
                e.firmware,
                "" if e.voltage_v is None else f"{e.voltage_v:.1f} V",
                "" if e.temperature_c is None else f"{e.temperature_c:.0f} °C",
                "; ".join(e.errors) or "none",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def run(cfg: ScanCommandConfig) -> int:
    from bricobot.motors.errors import MotorBusError
    from bricobot.motors.setup import scan_port

    if not cfg.port:
        print(
            "bricobot scan: give the port, e.g. port=/dev/ttyACM0 (see `bricobot find-port`)",
            file=sys.stderr,
        )
        return 2
    try:
        result = scan_port(cfg.port, cfg.bus, list(cfg.baudrates) or None, cfg.reply_timeout_s)
    except MotorBusError as exc:
        print(f"bricobot scan: {exc}", file=sys.stderr)
        return 1
    if not result.entries:
        print(
            f"no {cfg.bus} servo answered on {cfg.port}: check power and cable, or try bus=dynamixel/feetech"
        )
    else:
        print(format_table(result))
    for rate, count in result.garbled.items():
        print(f"warning: {count} garbled replies at {rate} baud: two motors probably share an id")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "scan", ScanCommandConfig, run, argv, "List every servo on a port at every baud rate."
    )
