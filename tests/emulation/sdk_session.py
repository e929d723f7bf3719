"""Helpers for driving the emulators with the vendors' own SDKs on a busy machine.

The vendor SDKs wait a fixed ~34 ms for a reply. On a loaded 2-core CI machine the emulator thread
(same process, same GIL) can miss that now and then, so a transaction that timed out is retried;
a wrong answer would repeat. For an instruction that cannot be repeated (it changes the servo's id
or baud rate), :func:`error_once` sends it once and, when the SDK gave up, reads the late reply.
"""

from __future__ import annotations

import os
import select
import time

from bricobot.motors.protocol import dynamixel as dp
from bricobot.motors.protocol import feetech as fp

TRIES = 10
#: Pause before a retry, doubling from the first to the last, so that a starved emulator thread
#: gets the CPU (about 6 s in all before a transaction is given up).
FIRST_PAUSE_S, LAST_PAUSE_S = 0.1, 1.0
#: How long a raw read waits for a late status packet: generous, it only bounds a failing test.
LATE_REPLY_S = 5.0


def until_ok(call, success_code, port=None):  # type: ignore[no-untyped-def]
    """Call an SDK transaction until its result code says success (at most TRIES times).

    Between tries, after a pause, a late reply to the timed-out request is drained so that the
    next request does not read it as its own answer.
    """
    pause_s = FIRST_PAUSE_S
    for _ in range(TRIES):
        result = call()
        code = result if isinstance(result, int) else result[-2] if len(result) == 3 else result[0]
        if code == success_code:
            break
        time.sleep(pause_s)
        pause_s = min(2 * pause_s, LAST_PAUSE_S)
        if port is not None:
            port.ser.reset_input_buffer()
    return result


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


def error_once(call, success_code, port, servo_id: int, feetech: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Send a non-repeatable instruction once (it changes the id or the baud rate: a retry would
    go unanswered); the error byte of its status packet, from the SDK or, when the SDK timed
    out, from the late reply read raw."""
    result, error = call()
    if result == success_code:
        return int(error)
    late = next_status(port, servo_id, feetech=feetech)
    assert late, f"no status packet from id {servo_id} within {LATE_REPLY_S} s"
    return late[-1].code if feetech else late[-1].error
