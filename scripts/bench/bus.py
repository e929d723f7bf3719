"""Software time per 6-servo sync read / sync write: bricobot's drivers vs the vendor SDKs.

The emulated bus runs in a child process (as a real bus would run outside this one), so only the
driver's own work is timed. ``cpu_us`` is the calling thread's CPU time per transaction (the
software cost: what the control loop and the video encoder lose); ``wall_us`` includes waiting for
the emulator. ``ratio`` = bricobot / SDK (≤ 1 means bricobot costs no more).

    .venv/bin/python scripts/bench/bus.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from collections.abc import Callable

N_SERVOS = 6


def _serve(family: str, conn) -> None:  # type: ignore[no-untyped-def]
    from bricobot.emulation import VirtualBus, VirtualServo

    model = "sts3215" if family == "feetech" else "xl330-m288"
    servos = [VirtualServo(model, i, baudrate=1_000_000) for i in range(1, N_SERVOS + 1)]
    with VirtualBus(servos) as vbus:
        conn.send(vbus.port)
        conn.recv()


def _time(fn: Callable[[], object], n: int) -> dict[str, float]:
    for _ in range(min(200, n)):
        fn()
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        fn()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_us": round(cpu / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1)}


#: A vendor-SDK read that timed out is retried (as bricobot's bus retries its own), so a busy
#: machine that starves the emulator for a moment does not end the benchmark; retries are counted.
RETRIES = 20


def _with_retries(
    attempt: Callable[[], bool], counter: list[int], clear: Callable[[], None]
) -> bool:
    """``attempt`` until it succeeds; after a failure, let late replies arrive and drop them
    (the SDKs do not, and a stale reply would spoil every later read)."""
    for _ in range(RETRIES + 1):
        if attempt():
            return True
        counter[0] += 1
        time.sleep(0.05)
        clear()
    return False


def bench_feetech(port: str, n: int) -> dict[str, dict[str, float]]:
    import scservo_sdk as scs

    from bricobot.motors.bus import Motor
    from bricobot.motors.feetech import FeetechBus

    names = [f"j{i}" for i in range(1, N_SERVOS + 1)]
    bus = FeetechBus(port, [Motor(n_, i + 1, "sts3215") for i, n_ in enumerate(names)])
    bus.connect()
    goals = {n_: 2048 for n_ in names}
    ours_read = _time(lambda: bus.sync_read("Present_Position"), n)
    ours_write = _time(lambda: bus.sync_write("Goal_Position", goals), n)
    time.sleep(1.0)  # let the emulator work off the queued writes before the next measurement
    bus.disconnect()

    ph_port = scs.PortHandler(port)
    ph_port.openPort()
    ph = scs.PacketHandler(0)
    reader = scs.GroupSyncRead(ph_port, ph, 56, 2)
    writer = scs.GroupSyncWrite(ph_port, ph, 42, 2)
    for i in range(1, N_SERVOS + 1):
        reader.addParam(i)
        writer.addParam(i, [0x00, 0x08])

    def sdk_read() -> None:
        if not _with_retries(
            lambda: reader.txRxPacket() == scs.COMM_SUCCESS, sdk_timeouts, ph_port.clearPort
        ):
            raise RuntimeError(f"scservo_sdk sync read failed {RETRIES + 1} times in a row")
        [reader.getData(i, 56, 2) for i in range(1, N_SERVOS + 1)]

    sdk_timeouts = [0]
    sdk_read_t = _time(sdk_read, n)
    sdk_write_t = _time(writer.txPacket, n)
    ph_port.closePort()
    sdk_read_t["timeouts_retried"] = sdk_timeouts[0]
    return {"bricobot_sync_read": ours_read, "sdk_sync_read": sdk_read_t,
            "bricobot_sync_write": ours_write, "sdk_sync_write": sdk_write_t}  # fmt: skip


def bench_dynamixel(port: str, n: int) -> dict[str, dict[str, float]]:
    import dynamixel_sdk as dxl

    from bricobot.motors.bus import Motor
    from bricobot.motors.dynamixel import DynamixelBus

    names = [f"j{i}" for i in range(1, N_SERVOS + 1)]
    bus = DynamixelBus(port, [Motor(n_, i + 1, "xl330-m288") for i, n_ in enumerate(names)])
    bus.connect()
    goals = {n_: 2048 for n_ in names}
    ours_read = _time(lambda: bus.sync_read("Present_Position"), n)
    ours_write = _time(lambda: bus.sync_write("Goal_Position", goals), n)
    time.sleep(1.0)  # let the emulator work off the queued writes before the next measurement
    bus.disconnect()

    p = dxl.PortHandler(port)
    p.openPort()
    p.setBaudRate(1_000_000)
    ph = dxl.PacketHandler(2.0)
    reader = dxl.GroupSyncRead(p, ph, 132, 4)
    writer = dxl.GroupSyncWrite(p, ph, 116, 4)
    for i in range(1, N_SERVOS + 1):
        reader.addParam(i)
        writer.addParam(i, [0x00, 0x08, 0, 0])

    def sdk_read() -> None:
        if not _with_retries(
            lambda: reader.txRxPacket() == dxl.COMM_SUCCESS, sdk_timeouts, p.clearPort
        ):
            raise RuntimeError(f"dynamixel_sdk sync read failed {RETRIES + 1} times in a row")
        [reader.getData(i, 132, 4) for i in range(1, N_SERVOS + 1)]

    sdk_timeouts = [0]
    sdk_read_t = _time(sdk_read, n)
    sdk_write_t = _time(writer.txPacket, n)
    p.closePort()
    sdk_read_t["timeouts_retried"] = sdk_timeouts[0]
    return {"bricobot_sync_read": ours_read, "sdk_sync_read": sdk_read_t,
            "bricobot_sync_write": ours_write, "sdk_sync_write": sdk_write_t}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="transactions per measurement")
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    report: dict[str, object] = {"servos": N_SERVOS, "n": args.n}
    for family, bench in (("feetech", bench_feetech), ("dynamixel", bench_dynamixel)):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(family, there), daemon=True)
        proc.start()
        port = here.recv()
        try:
            result = bench(port, args.n)
        finally:
            here.send("stop")
            proc.join(5)
        for op in ("sync_read", "sync_write"):
            ours, sdk = result[f"bricobot_{op}"], result[f"sdk_{op}"]
            result[f"ratio_{op}"] = {
                k: round(ours[k] / sdk[k], 3) if sdk[k] else None for k in ("cpu_us", "wall_us")
            }
        report[family] = result
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
