"""The vendors' SDK ports, made to wait for the emulator the way a busy machine needs.

The SDKs wait ~34 ms for a status packet (``2 × 16 ms`` of USB latency-timer slack) and spin on a
non-blocking read meanwhile. The emulator is a thread of the test process: the spinning reader
holds the GIL that the emulator needs to answer, so on a loaded machine each hand-over waits for
a CPU and a GIL switch, and many transactions ran out of their 34 ms (retries did not help: every
attempt met the same starvation). The ports below keep every byte the SDK sends and parses as it
is, and change only the wait: the reader sleeps in ``select`` (leaving the GIL and the CPU to the
emulator) and gives a reply :data:`REPLY_TIMEOUT_MS` to come. An answer comes as soon as it is
there, so the long budget costs time only in a test that fails.

:func:`next_status` reads status packets raw, for instructions the SDK sends without waiting for
the reply (ACTION) or bytes written around the SDK.
"""

from __future__ import annotations

import os
import select
import time

import dynamixel_sdk as dxl
import scservo_sdk as scs

from bricobot.motors.protocol import dynamixel as dp
from bricobot.motors.protocol import feetech as fp

#: How long an SDK transaction waits for its status packet (ms): generous, it only bounds a
#: failing test.
REPLY_TIMEOUT_MS = 10_000.0
#: How long a raw read waits for a status packet (s).
LATE_REPLY_S = REPLY_TIMEOUT_MS / 1000.0


class _Patient:
    """Mixin for an SDK PortHandler: a long reply budget, waited for in ``select``."""

    packet_timeout: float
    ser: object

    def setPacketTimeout(self, packet_length: int) -> None:
        super().setPacketTimeout(packet_length)  # type: ignore[misc]
        self.packet_timeout = max(self.packet_timeout, REPLY_TIMEOUT_MS)

    def readPort(self, length: int):  # type: ignore[no-untyped-def]
        remaining_ms = self.packet_timeout - self.getTimeSinceStart()  # type: ignore[attr-defined]
        select.select((self.ser.fileno(),), (), (), max(remaining_ms, 0.0) / 1000.0)  # type: ignore[attr-defined]
        return super().readPort(length)  # type: ignore[misc]


class DynamixelPort(_Patient, dxl.PortHandler):
    """``dynamixel_sdk.PortHandler`` that waits for the emulator (see the module docstring)."""


class FeetechPort(_Patient, scs.PortHandler):
    """``scservo_sdk.PortHandler`` that waits for the emulator (see the module docstring)."""


def next_status(port, servo_id: int, wait_s: float = LATE_REPLY_S, feetech: bool = False):  # type: ignore[no-untyped-def]
    """Status packets read raw from an SDK port (Dynamixel 2.0 or Feetech frames), up to the
    first one from ``servo_id``; an empty list when none came within ``wait_s``."""
    parser = fp.FeetechParser() if feetech else dp.DynamixelParser()
    fd = port.ser.fileno()
    got = []
    deadline = time.monotonic() + wait_s
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select((fd,), (), (), remaining)
        if not ready:
            break
        for packet in parser.feed(os.read(fd, 4096)):
            got.append(packet)
            if packet.servo_id == servo_id:
                return got
    return got
