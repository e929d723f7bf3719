"""Feetech STS/SCS packets: ``FF FF | ID | LEN | INSTR/ERR | params | CHK``.

``LEN = len(params) + 2`` and ``CHK = ~(ID + LEN + INSTR + Σparams) & 0xFF``. Instruction and status
packets share the frame; a status packet carries the servo's error bits where an instruction carries
its opcode. :class:`FeetechParser` pulls whole frames out of a byte stream, skipping noise, so the
driver and the emulator share one framing code path.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC

PING = 0x01
READ = 0x02
WRITE = 0x03
REG_WRITE = 0x04
ACTION = 0x05
SYNC_READ = 0x82
SYNC_WRITE = 0x83

#: Status error bits → plain message.
ERROR_BITS: dict[int, str] = {
    0x01: "input voltage out of range (check the power supply: 7.4 V or 12 V as the servo requires)",
    0x02: "angle sensor error",
    0x04: "overheating (let it cool, lower the load or the torque limit)",
    0x08: "over-current",
    0x20: "overload (the joint is blocked or the load is too high)",
}

MIN_FRAME = 6  # FF FF ID LEN ERR CHK


def checksum(body: bytes | bytearray) -> int:
    """Checksum over ``ID LEN INSTR params`` (the frame without header and checksum)."""
    return ~sum(body) & 0xFF


def encode(servo_id: int, code: int, params: bytes = b"") -> bytes:
    """One frame: ``code`` is the instruction (instruction packet) or the error byte (status)."""
    if not 0 <= servo_id <= 0xFE:
        raise ValueError(f"servo id {servo_id} outside 0..254")
    if len(params) > 250:
        raise ValueError(f"{len(params)} parameter bytes exceed the 250-byte frame limit")
    body = bytes((servo_id, len(params) + 2, code)) + bytes(params)
    return HEADER + body + bytes((checksum(body),))


@dataclass(frozen=True)
class Packet:
    """A decoded frame. ``code`` is the instruction or, for a status packet, the error byte."""

    servo_id: int
    code: int
    params: bytes


def decode(frame: bytes | bytearray) -> Packet:
    """Decode exactly one frame; raises ValueError naming what is wrong with it."""
    if len(frame) < MIN_FRAME or frame[:2] != HEADER:
        raise ValueError(f"not a Feetech frame: {bytes(frame).hex(' ')}")
    length = frame[3]
    if len(frame) != length + 4:
        raise ValueError(f"frame length {len(frame)} does not match LEN={length}")
    if checksum(frame[2:-1]) != frame[-1]:
        raise ValueError(f"bad checksum in {bytes(frame).hex(' ')}")
    return Packet(frame[2], frame[4], bytes(frame[5:-1]))


class FeetechParser:
    """Incremental frame extractor: feed bytes, get whole valid packets; noise and bad frames are skipped.

    ``bad_frames`` counts frames dropped for a bad checksum, so a caller can tell corruption from
    silence.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_frames = 0

    def clear(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets: list[Packet] = []
        buf = self._buffer
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # Keep a trailing 0xFF: it may be the first header byte of the next frame.
                del buf[: len(buf) - 1 if buf.endswith(b"\xff") else len(buf)]
                return packets
            if start:
                del buf[:start]
            if len(buf) < 4:
                return packets
            if buf[2] == 0xFF:  # FF FF FF ...: shift by one to realign the header
                del buf[0]
                continue
            end = buf[3] + 4
            if buf[3] < 2:
                del buf[:2]
                continue
            if len(buf) < end:
                return packets
            frame = bytes(buf[:end])
            if checksum(frame[2:-1]) == frame[-1]:
                packets.append(Packet(frame[2], frame[4], frame[5:-1]))
                del buf[:end]
            else:
                self.bad_frames += 1
                del buf[:2]


# --- instruction builders -------------------------------------------------------------------


def ping(servo_id: int) -> bytes:
    return encode(servo_id, PING)


def read(servo_id: int, address: int, size: int) -> bytes:
    return encode(servo_id, READ, bytes((address, size)))


def write(servo_id: int, address: int, data: bytes) -> bytes:
    return encode(servo_id, WRITE, bytes((address,)) + data)


def sync_read(ids: list[int], address: int, size: int) -> bytes:
    return encode(BROADCAST_ID, SYNC_READ, bytes((address, size, *ids)))


def sync_write(address: int, size: int, data_by_id: dict[int, bytes]) -> bytes:
    params = bytearray((address, size))
    for servo_id, data in data_by_id.items():
        if len(data) != size:
            raise ValueError(f"sync write to id {servo_id}: {len(data)} bytes, expected {size}")
        params.append(servo_id)
        params += data
    return encode(BROADCAST_ID, SYNC_WRITE, bytes(params))


def status(servo_id: int, error: int = 0, data: bytes = b"") -> bytes:
    return encode(servo_id, error, data)


def error_messages(error: int) -> list[str]:
    """Plain messages for each bit set in a status error byte."""
    return [text for bit, text in ERROR_BITS.items() if error & bit]
