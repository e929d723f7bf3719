"""Register value encodings: sign-magnitude (Feetech), two's complement (Dynamixel), byte order.

Feetech STS/SCS registers carry signed values as sign-magnitude with the sign in a register-specific
bit (15 for positions and speeds, 11 for Homing_Offset, 10 for Present_Load); Dynamixel registers use
two's complement. STS servos are little-endian, SCS servos big-endian, Dynamixel little-endian.
"""

from __future__ import annotations


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Signed ``value`` → unsigned register word with the sign in ``sign_bit``.

    Raises ValueError when ``|value|`` does not fit below the sign bit (e.g. a Feetech Homing_Offset
    beyond ±2047).
    """
    limit = (1 << sign_bit) - 1
    magnitude = abs(value)
    if magnitude > limit:
        raise ValueError(
            f"{value} does not fit a sign-magnitude field with sign bit {sign_bit} (|value| ≤ {limit})"
        )
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def decode_sign_magnitude(word: int, sign_bit: int) -> int:
    """Unsigned register word with the sign in ``sign_bit`` → signed value."""
    magnitude = word & ((1 << sign_bit) - 1)
    return -magnitude if word & (1 << sign_bit) else magnitude


def encode_twos_complement(value: int, size: int) -> int:
    """Signed ``value`` → unsigned ``size``-byte word (two's complement). Raises when out of range."""
    bits = 8 * size
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise ValueError(f"{value} does not fit a {size}-byte two's complement field")
    return value & ((1 << bits) - 1)


def decode_twos_complement(word: int, size: int) -> int:
    """Unsigned ``size``-byte word → signed value (two's complement)."""
    bits = 8 * size
    return word - (1 << bits) if word & (1 << (bits - 1)) else word


def to_bytes(word: int, size: int, big_endian: bool = False) -> bytes:
    """Unsigned ``word`` → ``size`` bytes. Raises ValueError when it does not fit."""
    if not 0 <= word < (1 << (8 * size)):
        raise ValueError(f"{word} does not fit {size} unsigned byte(s)")
    return word.to_bytes(size, "big" if big_endian else "little")


def from_bytes(data: bytes | bytearray, big_endian: bool = False) -> int:
    """Bytes → unsigned word."""
    return int.from_bytes(data, "big" if big_endian else "little")
