"""Dynamixel Protocol 2.0: CRC, byte stuffing and packets against known vectors and the SDK."""

from __future__ import annotations

import dynamixel_sdk as sdk
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bricobot.motors.protocol import dynamixel as dp

SDK = sdk.Protocol2PacketHandler()


class _CapturePort:
    is_using = False

    def __init__(self) -> None:
        self.sent = b""

    def clearPort(self) -> None:
        pass

    def writePort(self, packet: list[int]) -> int:
        self.sent = bytes(packet)
        return len(packet)

    def setPacketTimeout(self, *_: object) -> None:
        pass


def _sdk_bytes(build) -> bytes:  # type: ignore[no-untyped-def]
    port = _CapturePort()
    build(port)
    return port.sent


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        # ROBOTIS e-Manual, Protocol 2.0 examples.
        (dp.ping(1), "ff ff fd 00 01 03 00 01 19 4e"),
        (dp.read(1, 132, 4), "ff ff fd 00 01 07 00 02 84 00 04 00 1d 15"),
        (
            dp.write(1, 116, bytes((0x00, 0x02, 0x00, 0x00))),
            "ff ff fd 00 01 09 00 03 74 00 00 02 00 00 ca 89",
        ),
    ],
)
def test_known_vectors(packet: bytes, expected: str) -> None:
    assert packet == bytes.fromhex(expected)


def test_crc_table_starts_as_documented() -> None:
    assert dp.CRC_TABLE[:3] == [0x0000, 0x8005, 0x800F]


@given(st.binary(max_size=200))
def test_crc_matches_sdk(data: bytes) -> None:
    assert dp.crc16(data) == SDK.updateCRC(0, list(data), len(data))


@given(st.lists(st.sampled_from([0x00, 0xFD, 0xFF, 0x12]), max_size=40))
def test_stuffing_round_trip(values: list[int]) -> None:
    payload = bytes((0x03, *values))
    assert dp.unstuff(dp.stuff(payload)) == payload
    stuffed = dp.stuff(payload)
    # No false header inside the payload: every FF FF FD is followed by the stuffing FD.
    for i in range(len(stuffed) - 2):
        if stuffed[i : i + 3] == b"\xff\xff\xfd":
            assert stuffed[i + 3 : i + 4] == b"\xfd"


@given(
    st.integers(0, 252),
    st.integers(0, 500),
    st.lists(st.sampled_from([0xFF, 0xFD, 0x00, 0x7F]), min_size=1, max_size=12),
)
def test_write_with_stuffing_matches_sdk(servo_id: int, address: int, data: list[int]) -> None:
    ours = dp.write(servo_id, address, bytes(data))
    theirs = _sdk_bytes(
        lambda port: SDK.writeTxOnly(port, servo_id, address, len(data), list(data))
    )
    if b"\xff\xff\xfd" not in bytes(data):
        assert ours == theirs
    else:
        # dynamixel-sdk 4.1's txPacket drops addStuffing's result and sends the packet unstuffed;
        # compare with what addStuffing itself produces (CRC recomputed over the stuffed bytes).
        stuffed = SDK.addStuffing([*theirs[:-2], 0, 0])
        body = bytes(stuffed[:-2])
        assert ours == body + dp.crc16(body).to_bytes(2, "little")
    packet = dp.decode(ours)
    assert packet.params == bytes((address & 0xFF, address >> 8)) + bytes(data)


@given(st.lists(st.integers(0, 252), min_size=1, max_size=20, unique=True))
def test_sync_read_matches_sdk(ids: list[int]) -> None:
    ours = dp.sync_read(ids, 132, 4)
    assert ours == _sdk_bytes(lambda port: SDK.syncReadTx(port, 132, 4, ids, len(ids), False))


@given(st.integers(0, 252), st.integers(0, 255), st.binary(max_size=40))
def test_status_round_trip(servo_id: int, error: int, data: bytes) -> None:
    packet = dp.decode(dp.status(servo_id, error, data))
    assert (packet.servo_id, packet.instruction, packet.error, packet.params) == (
        servo_id,
        dp.STATUS,
        error,
        data,
    )


@given(
    st.lists(st.tuples(st.integers(0, 252), st.binary(max_size=12)), min_size=1, max_size=6),
    st.data(),
)
def test_parser_recovers_split_stream(frames, data) -> None:  # type: ignore[no-untyped-def]
    stream = b"\x00\x13" + b"".join(dp.status(i, 0, p) for i, p in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    parser = dp.DynamixelParser()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += parser.feed(stream[a:b])
    assert [(p.servo_id, p.params) for p in got] == frames


def test_parser_drops_bad_crc() -> None:
    bad = bytearray(dp.status(1, 0, b"\x01\x02"))
    bad[-2] ^= 0x01
    parser = dp.DynamixelParser()
    assert [p.servo_id for p in parser.feed(bytes(bad) + dp.status(2))] == [2]
    assert parser.bad_frames == 1
