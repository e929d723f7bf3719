"""Soak test: consecutive 6-servo sync reads with 2 % of status packets lost or corrupted.

Acceptance: every read succeeds through retries; and with one motor unplugged the error names the
motor and id, measured in milliseconds. Prints JSON.

    .venv/bin/python scripts/bus_fault_soak.py [--reads 10000] [--family feetech|dynamixel|both]
"""

from __future__ import annotations

import argparse
import json
import time

from bricobot.emulation import Faults, VirtualBus, VirtualServo
from bricobot.motors.bus import Motor
from bricobot.motors.dynamixel import DynamixelBus
from bricobot.motors.errors import CommunicationError
from bricobot.motors.feetech import FeetechBus

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
MODEL = {"feetech": "sts3215", "dynamixel": "xl330-m288"}
BUS = {"feetech": FeetechBus, "dynamixel": DynamixelBus}


def soak(
    family: str, reads: int, loss: float, timeout_s: float | None, retries: int
) -> dict[str, object]:
    servos = [VirtualServo(MODEL[family], i + 1, baudrate=1_000_000) for i in range(6)]
    faults = Faults(drop_rate=loss / 2, corrupt_rate=loss / 2, seed=1234)
    motors = [Motor(n, i + 1, MODEL[family]) for i, n in enumerate(JOINTS)]
    with VirtualBus(servos, faults=faults) as vbus:
        bus = BUS[family](vbus.port, motors, timeout_s=timeout_s, retries=retries, name="soak arm")
        bus.connect()
        failures = 0
        failure_messages: list[str] = []
        start = time.perf_counter()
        for _ in range(reads):
            try:
                bus.sync_read("Present_Position")
            except CommunicationError as exc:
                failures += 1
                failure_messages.append(str(exc)[:160])
        elapsed = time.perf_counter() - start
        vbus.faults = Faults()
        vbus.faults.unplugged.add(4)
        t0 = time.perf_counter()
        try:
            bus.sync_read("Present_Position")
            message = "no error raised"
        except CommunicationError as exc:
            message = str(exc)
        unplugged_ms = (time.perf_counter() - t0) * 1000
        bus.close()
    return {
        "reads": reads,
        "failed_reads": failures,
        "first_failures": failure_messages[:3],
        "status_packets_dropped": vbus.counts["dropped"],
        "status_packets_corrupted": vbus.counts["corrupted"],
        "retries": bus.stats["retries"],
        "mean_read_ms": round(elapsed / reads * 1000, 3),
        "unplugged_error_ms": round(unplugged_ms, 1),
        "unplugged_error_names_motor": "'wrist_flex' (id 4)" in message,
        "unplugged_error": message,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=10_000)
    parser.add_argument("--loss", type=float, default=0.02, help="fraction of bad status packets")
    parser.add_argument("--family", default="both", choices=["feetech", "dynamixel", "both"])
    parser.add_argument("--timeout-s", type=float, default=None, help="default: the bus's own")
    parser.add_argument("--retries", type=int, default=3, help="the bus default")
    args = parser.parse_args()
    families = ["feetech", "dynamixel"] if args.family == "both" else [args.family]
    report = {f: soak(f, args.reads, args.loss, args.timeout_s, args.retries) for f in families}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
