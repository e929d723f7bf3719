"""Dynamixel Protocol 2.0 packets: ``FF FF FD 00 | ID | LEN_L LEN_H | INSTR | params | CRC_L CRC_H``.

``LEN`` counts INSTR, the (stuffed) params and the CRC. The CRC-16 (polynomial 0x8005, not
reflected, initial value 0) covers every byte from the header to the last parameter. Inside the
payload, ``FF FF FD`` is sent as ``FF FF FD FD`` (byte stuffing). A status packet has INSTR = 0x55
followed by the error byte. :class:`DynamixelParser` pulls whole packets from a byte stream.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC

PING = 0x01
READ = 0x02
WRITE = 0x03
REG_WRITE = 0x04
ACTION = 0x05
FACTORY_RESET = 0x06
REBOOT = 0x08
CLEAR = 0x10
STATUS = 0x55
SYNC_READ = 0x82
SYNC_WRITE = 0x83
FAST_SYNC_READ = 0x8A
BULK_READ = 0x92
BULK_WRITE = 0x93

#: Status error numbers (low 7 bits) → plain message.
ERROR_NUMBERS: dict[int, str] = {
    1: "result fail: the servo could not process the instruction",
    2: "instruction error: undefined instruction, or ACTION without REG_WRITE",
    3: "CRC error: the instruction packet was corrupted on the wire",
    4: "data range error: the value is outside the register's range",
    5: "data length error: the packet is shorter than the register",
    6: "data limit error: the value exceeds a limit register (e.g. a position limit)",
    7: "access error: read-only register, or an EEPROM register written while torque is on",
}
ALERT_BIT = 0x80


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


CRC_TABLE = _make_table()


def crc16(data: bytes | bytearray, crc: int = 0) -> int:
    """CRC-16/BUYPASS (poly 0x8005, init 0, not reflected) as Dynamixel Protocol 2.0 uses."""
    table = CRC_TABLE
    for byte in data:
        crc = ((crc << 8) ^ table[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(payload: bytes) -> bytes:
    """Insert an extra 0xFD after every ``FF FF FD`` in ``payload`` (INSTR + params)."""
    if b"\xff\xff\xfd" not in payload:
        return payload
    out = bytearray()
    for i, byte in enumerate(payload):
        out.append(byte)
        if byte == 0xFD and i >= 2 and payload[i - 1] == 0xFF and payload[i - 2] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(payload: bytes) -> bytes:
    """Remove the 0xFD inserted by :func:`stuff`."""
    if b"\xff\xff\xfd\xfd" not in payload:
        return payload
    out = bytearray()
    i = 0
    while i < len(payload):
        out.append(payload[i])
        if (
            payload[i] == 0xFD
            and len(out) >= 3
            and out[-2] == 0xFF
            and out[-3] == 0xFF
            and i + 1 < len(payload)
            and payload[i + 1] == 0xFD
        ):
            i += 1  # skip the stuffing byte
        i += 1
    return bytes(out)


def encode(servo_id: int, instruction: int, params: bytes = b"") -> bytes:
    """Instruction packet (or, with ``instruction=STATUS`` and the error first in ``params``, status)."""
    if not 0 <= servo_id <= 0xFE:
        raise ValueError(f"servo id {servo_id} outside 0..254")
    payload = stuff(bytes((instruction,)) + bytes(params))
    length = len(payload) + 2
    body = HEADER + bytes((servo_id, length & 0xFF, length >> 8)) + payload
    crc = crc16(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def status(servo_id: int, error: int = 0, data: bytes = b"") -> bytes:
    return encode(servo_id, STATUS, bytes((error,)) + bytes(data))


@dataclass(frozen=True)
class Packet:
    """A decoded packet. For status packets ``instruction == STATUS`` and ``error`` is set."""

    servo_id: int
    instruction: int
    params: bytes  # unstuffed; for a status packet, the data after the error byte
    error: int = 0


def _packet(servo_id: int, payload: bytes) -> Packet:
    payload = unstuff(payload)
    if payload[0] == STATUS:
        if len(payload) < 2:
            raise ValueError("status packet without an error byte")
        return Packet(servo_id, STATUS, payload[2:], payload[1])
    return Packet(servo_id, payload[0], payload[1:])


def decode(frame: bytes | bytearray) -> Packet:
    """Decode exactly one packet; raises ValueError naming what is wrong with it."""
    frame = bytes(frame)
    if len(frame) < 10 or frame[:4] != HEADER:
        raise ValueError(f"not a Dynamixel 2.0 packet: {frame.hex(' ')}")
    length = frame[5] | frame[6] << 8
    if len(frame) != length + 7:
        raise ValueError(f"packet length {len(frame)} does not match LEN={length}")
    if crc16(frame[:-2]) != (frame[-2] | frame[-1] << 8):
        raise ValueError(f"bad CRC in {frame.hex(' ')}")
    return _packet(frame[4], frame[7:-2])


class DynamixelParser:
    """Incremental packet extractor: feed bytes, get whole valid packets; noise and bad CRCs are skipped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_frames = 0

    def clear(self) -> None:
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        buf = self._buffer
        packets: list[Packet] = []
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = 0
                for k in (3, 2, 1):  # a partial header at the end stays for the next feed
                    if buf.endswith(HEADER[:k]):
                        keep = k
                        break
                del buf[: len(buf) - keep]
                return packets
            if start:
                del buf[:start]
            if len(buf) < 7:
                return packets
            length = buf[5] | buf[6] << 8
            if length < 3 or length > 1024:
                del buf[:4]
                continue
            end = length + 7
            if len(buf) < end:
                return packets
            frame = bytes(buf[:end])
            if crc16(frame[:-2]) == (frame[-2] | frame[-1] << 8):
                try:
                    packets.append(_packet(frame[4], frame[7:-2]))
                except ValueError:
                    self.bad_frames += 1
                del buf[:end]
            else:
                self.bad_frames += 1
                del buf[:4]


# --- instruction builders -------------------------------------------------------------------


def _u16(value: int) -> bytes:
    return bytes((value & 0xFF, value >> 8 & 0xFF))


def ping(servo_id: int) -> bytes:
    return encode(servo_id, PING)


def read(servo_id: int, address: int, size: int) -> bytes:
    return encode(servo_id, READ, _u16(address) + _u16(size))


def write(servo_id: int, address: int, data: bytes) -> bytes:
    return encode(servo_id, WRITE, _u16(address) + data)


def sync_read(ids: list[int], address: int, size: int) -> bytes:
    return encode(BROADCAST_ID, SYNC_READ, _u16(address) + _u16(size) + bytes(ids))


def sync_write(address: int, size: int, data_by_id: dict[int, bytes]) -> bytes:
    params = bytearray(_u16(address) + _u16(size))
    for servo_id, data in data_by_id.items():
        if len(data) != size:
            raise ValueError(f"sync write to id {servo_id}: {len(data)} bytes, expected {size}")
        params.append(servo_id)
        params += data
    return encode(BROADCAST_ID, SYNC_WRITE, bytes(params))


def error_message(error: int) -> str:
    """Plain message for a status error byte (empty when 0)."""
    parts = []
    number = error & 0x7F
    if number:
        parts.append(ERROR_NUMBERS.get(number, f"unknown error number {number}"))
    if error & ALERT_BIT:
        parts.append("hardware alert: read Hardware_Error_Status")
    return "; ".join(parts)
