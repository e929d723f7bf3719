"""Frames and messages of the remote-policy protocol: round trips, and every rule refused by name."""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pytest

from bricobot.policies.base import FeatureConfig
from bricobot.runtime.remote.images import decode_image, encode_image, jpeg_size
from bricobot.runtime.remote.protocol import (
    Kind,
    RemoteAuthError,
    chunk_message,
    error_header,
    expect,
    features_from_json,
    features_to_json,
    observation_blobs,
    observation_header,
    parse_chunk,
    parse_observation,
)
from bricobot.runtime.remote.wire import (
    MAGIC,
    PREAMBLE,
    PROTOCOL_VERSION,
    WireError,
    WireLimits,
    decode_body,
    decode_preamble,
    encode_frame,
    raw_blob,
)

LIMITS = WireLimits(max_header_bytes=4096, max_payload_bytes=1 << 20)
JOINTS = [f"j{i}.pos" for i in range(3)]
FEATURES = {
    "observation.state": FeatureConfig(shape=[3], names=JOINTS),
    "observation.images.front": FeatureConfig(shape=[24, 32, 3]),
    "action": FeatureConfig(shape=[3], names=JOINTS),
}


def decode(data: bytes, limits: WireLimits = LIMITS):
    kind, head_n, payload_n = decode_preamble(data[: PREAMBLE.size], limits)
    head = data[PREAMBLE.size : PREAMBLE.size + head_n]
    payload = data[PREAMBLE.size + head_n :]
    assert len(payload) == payload_n
    return decode_body(kind, head, payload)


def frame_bytes(header: dict, payload: bytes = b"", version: int = PROTOCOL_VERSION) -> bytes:
    head = json.dumps(header).encode()
    return (
        PREAMBLE.pack(MAGIC, version, Kind.OBSERVATION, 0, len(head), len(payload)) + head + payload
    )


def image() -> np.ndarray:
    yy, xx = np.mgrid[0:24, 0:32]
    return np.stack([xx * 8, yy * 10, np.full_like(xx, 128)], -1).astype(np.uint8)


def test_a_frame_round_trips_tensors_bit_exactly() -> None:
    state = np.array([1.5, -2.25, 1e-7], np.float32)
    frame = decode(encode_frame(Kind.OBSERVATION, {"seq": 3}, [raw_blob("s", state)]))
    assert frame.kind == Kind.OBSERVATION and frame.header == {"seq": 3}
    assert frame.blobs["s"].array().dtype == np.dtype("<f4")
    np.testing.assert_array_equal(frame.blobs["s"].array(), state)


@pytest.mark.parametrize("encoding", ["raw", "jpeg"])
def test_an_observation_round_trips_with_raw_or_jpeg_images(encoding: str) -> None:
    observation = {"j0.pos": 1.0, "j1.pos": 2.0, "j2.pos": 3.0, "front": image()}
    blobs = observation_blobs(observation, FEATURES, encoding, jpeg_quality=95)
    frame = decode(encode_frame(Kind.OBSERVATION, observation_header(7, 12.5), blobs))
    seq, obs_time_s, inputs = parse_observation(frame, FEATURES)
    assert (seq, obs_time_s) == (7, 12.5)
    np.testing.assert_array_equal(inputs["observation.state"], [1.0, 2.0, 3.0])
    error = np.abs(inputs["observation.images.front"].astype(int) - image()).mean()
    assert error == 0 if encoding == "raw" else error < 4  # JPEG is lossy, colours stay RGB


def test_a_huge_length_prefix_is_refused_before_reading_it() -> None:
    preamble = PREAMBLE.pack(MAGIC, PROTOCOL_VERSION, 3, 0, 100, 2**32 - 1)
    with pytest.raises(WireError, match="exceeds the limit"):
        decode_preamble(preamble, LIMITS)
    preamble = PREAMBLE.pack(MAGIC, PROTOCOL_VERSION, 3, 0, 2**31, 0)
    with pytest.raises(WireError, match="header of"):
        decode_preamble(preamble, LIMITS)


@pytest.mark.parametrize(
    ("preamble", "match"),
    [
        (PREAMBLE.pack(b"GET ", 1, 3, 0, 10, 0), "not a bricobot policy frame"),
        (PREAMBLE.pack(MAGIC, 2, 3, 0, 10, 0), "run the same bricobot version"),
        (PREAMBLE.pack(MAGIC, 1, 3, 7, 10, 0), "flags"),
        (PREAMBLE.pack(MAGIC, 1, 3, 0, 0, 0), "header of 0 bytes"),
    ],
)
def test_a_foreign_preamble_is_refused_by_name(preamble: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        decode_preamble(preamble, LIMITS)


@pytest.mark.parametrize(
    ("header", "payload", "match"),
    [
        (
            {
                "blobs": [
                    {"name": "a", "dtype": "object", "shape": [1], "encoding": "raw", "nbytes": 8}
                ]
            },
            b"x" * 8,
            "dtype must be",
        ),
        (
            {
                "blobs": [
                    {"name": "a", "dtype": "uint8", "shape": [4], "encoding": "raw", "nbytes": 3}
                ]
            },
            b"xyz",
            "do not hold",
        ),
        (
            {
                "blobs": [
                    {"name": "a", "dtype": "uint8", "shape": [4], "encoding": "raw", "nbytes": 4}
                ]
            },
            b"xy",
            "past the end",
        ),
        (
            {
                "blobs": [
                    {"name": "a", "dtype": "uint8", "shape": [-1], "encoding": "raw", "nbytes": 0}
                ]
            },
            b"",
            "shape must be",
        ),
        (
            {
                "blobs": [
                    {"name": "a", "dtype": "uint8", "shape": [1], "encoding": "raw", "nbytes": 1}
                ]
            },
            b"xy",
            "no blob declares",
        ),
        ({"blobs": "nope"}, b"", "must be a list"),
    ],
)
def test_a_bad_blob_table_is_refused(header: dict, payload: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        decode(frame_bytes(header, payload))


def test_a_deeply_nested_or_non_object_header_is_refused() -> None:
    deep = b"[" * 3000 + b"]" * 3000
    for head in (deep, b"[1, 2]", b"\xff\xfe", b"{bad json"):
        with pytest.raises(WireError):
            decode_body(Kind.OBSERVATION, head, b"")


def test_an_error_message_becomes_the_error_it_reports() -> None:
    frame = decode(encode_frame(Kind.ERROR, error_header("auth", "wrong token")))
    with pytest.raises(RemoteAuthError, match="wrong token"):
        expect(frame, Kind.WELCOME)


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        (np.zeros((4, 2), np.float32), r"expected \(n, 3\)"),
        (np.full((4, 3), np.nan, np.float32), "non-finite"),
        (np.zeros((0, 3), np.float32), "shape"),
    ],
)
def test_a_chunk_of_the_wrong_shape_or_not_finite_is_refused(
    actions: np.ndarray, match: str
) -> None:
    header, _ = chunk_message(1, 0.0, np.zeros((1, 3)), 0.0)
    frame = decode(encode_frame(Kind.CHUNK, header, [raw_blob("action", actions)]))
    with pytest.raises(WireError, match=match):
        parse_chunk(frame, action_dim=3)


def test_an_observation_missing_an_input_or_of_another_size_is_refused() -> None:
    observation = {"j0.pos": 1.0, "j1.pos": 2.0, "j2.pos": 3.0, "front": image()}
    blobs = observation_blobs(observation, FEATURES, "jpeg")
    frame = decode(encode_frame(Kind.OBSERVATION, observation_header(1, 0.0), blobs[:1]))
    with pytest.raises(WireError, match=r"observation\.images\.front"):
        parse_observation(frame, FEATURES)
    other = {**FEATURES, "observation.images.front": FeatureConfig(shape=[48, 64, 3])}
    frame = decode(encode_frame(Kind.OBSERVATION, observation_header(1, 0.0), blobs))
    with pytest.raises(WireError, match="expected uint8"):
        parse_observation(frame, other)


def test_a_jpeg_whose_header_lies_about_its_size_is_not_decoded() -> None:
    blob = encode_image("observation.images.front", image(), "jpeg")
    assert jpeg_size(blob.data) == (24, 32)
    big = cv2.imencode(".jpg", np.zeros((480, 640, 3), np.uint8))[1].tobytes()
    blob.data = big  # declares 24x32, holds 480x640: refused before decoding
    with pytest.raises(WireError, match=r"JPEG of size \(480, 640\)"):
        decode_image(blob, (24, 32, 3))
    blob.data = b"\xff\xd8" + b"\x00" * 20
    with pytest.raises(WireError):
        decode_image(blob, (24, 32, 3))


def test_features_round_trip_and_bad_specs_are_refused() -> None:
    assert features_from_json(features_to_json(FEATURES)) == FEATURES
    bad_specs: list[object] = [[], {"a": {"shape": [0]}}, {"a": {"shape": [1], "names": [1]}}]
    for bad in [*bad_specs, {"a": 3}]:
        with pytest.raises(WireError):
            features_from_json(bad)


def test_preamble_layout_is_sixteen_little_endian_bytes() -> None:
    """The layout other implementations rely on."""
    data = encode_frame(Kind.HELLO, {"time_s": 1.0})
    assert data[:4] == b"BRCB" and PREAMBLE.size == 16
    assert struct.unpack("<H", data[4:6]) == (1,) and data[6] == Kind.HELLO
