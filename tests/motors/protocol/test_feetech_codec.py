"""Feetech frames: known vectors, the vendor SDK as an oracle, and property-based round trips."""

from __future__ import annotations

import scservo_sdk as scs
from hypothesis import given
from hypothesis import strategies as st

from bricobot.motors.protocol import feetech as fp


class _CapturePort:
    """Stands in for the SDK's PortHandler: records the bytes the SDK would send."""

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
    build(scs.PacketHandler(0), port)
    return port.sent


def test_known_ping_vector() -> None:
    # Feetech manual: ping id 1 is FF FF 01 02 01 FB.
    assert fp.ping(1) == bytes.fromhex("ff ff 01 02 01 fb")


@given(st.integers(0, 253), st.integers(0, 255), st.integers(1, 64))
def test_read_matches_vendor_sdk(servo_id: int, address: int, size: int) -> None:
    assert fp.read(servo_id, address, size) == _sdk_bytes(
        lambda ph, port: ph.readTx(port, servo_id, address, size)
    )


@given(st.integers(0, 253), st.integers(0, 255), st.binary(min_size=1, max_size=8))
def test_write_matches_vendor_sdk(servo_id: int, address: int, data: bytes) -> None:
    assert fp.write(servo_id, address, data) == _sdk_bytes(
        lambda ph, port: ph.writeTxOnly(port, servo_id, address, len(data), list(data))
    )


@given(st.lists(st.integers(0, 252), min_size=1, max_size=20, unique=True), st.integers(0, 255))
def test_sync_read_matches_vendor_sdk(ids: list[int], address: int) -> None:
    assert fp.sync_read(ids, address, 2) == _sdk_bytes(
        lambda ph, port: ph.syncReadTx(port, address, 2, ids, len(ids))
    )


@given(
    st.dictionaries(st.integers(0, 252), st.binary(min_size=2, max_size=2), min_size=1, max_size=10)
)
def test_sync_write_matches_vendor_sdk(data: dict[int, bytes]) -> None:
    params = [b for servo_id, d in data.items() for b in (servo_id, *d)]
    assert fp.sync_write(42, 2, data) == _sdk_bytes(
        lambda ph, port: ph.syncWriteTxOnly(port, 42, 2, params, len(params))
    )


@given(st.integers(0, 254), st.integers(0, 255), st.binary(max_size=64))
def test_encode_decode_round_trip(servo_id: int, code: int, params: bytes) -> None:
    packet = fp.decode(fp.encode(servo_id, code, params))
    assert (packet.servo_id, packet.code, packet.params) == (servo_id, code, params)


@given(
    st.lists(st.tuples(st.integers(0, 253), st.binary(max_size=16)), min_size=1, max_size=8),
    st.binary(max_size=12),
    st.data(),
)
def test_parser_recovers_frames_from_split_noisy_stream(frames, noise: bytes, data) -> None:  # type: ignore[no-untyped-def]
    stream = noise.replace(b"\xff", b"") + b"".join(fp.status(i, 0, p) for i, p in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    parser = fp.FeetechParser()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += parser.feed(stream[a:b])
    assert [(p.servo_id, p.params) for p in got] == frames


def test_parser_counts_a_corrupted_frame_and_keeps_the_next() -> None:
    bad = bytearray(fp.status(1, 0, b"\x10\x20"))
    bad[-1] ^= 0xFF
    parser = fp.FeetechParser()
    packets = parser.feed(bytes(bad) + fp.status(2, 0, b"\x30\x40"))
    assert [p.servo_id for p in packets] == [2]
    assert parser.bad_frames == 1
