"""Fuzzed streams: random bytes, truncated frames, huge length prefixes, corrupted headers.

Nothing a peer sends may crash the server, stop it serving a well-behaved robot, raise anything
but a protocol error, or reach a robot as an action.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket

import numpy as np
import pytest
from tests.fakes.runtime_devices import FakeRobot
from tests.remote.conftest import TOKEN, client_config
from tests.remote.doubles import JunkServer
from tests.remote.stepping import drive
from tests.remote.test_server import ask, connect

from bricobot.errors import BricobotError
from bricobot.policies.base import Policy
from bricobot.policies.checkpoint import boundary_features
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.protocol import (
    Kind,
    chunk_message,
    hello_header,
    observation_blobs,
    observation_header,
    parse_chunk,
    parse_hello,
    parse_observation,
    parse_welcome,
    welcome_header,
)
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import (
    MAGIC,
    PREAMBLE,
    PROTOCOL_VERSION,
    WireLimits,
    decode_body,
    decode_preamble,
    encode_frame,
)

LIMITS = WireLimits(max_header_bytes=64 * 1024, max_payload_bytes=1 << 20)
CASES = 3000
CONNECTIONS = 120


def valid_frames(robot: FakeRobot, policy: Policy) -> list[bytes]:
    """One valid frame of each kind, to be cut and corrupted."""
    robot.connected = True
    features = boundary_features(robot.observation_features, robot.action_features)
    policy_features = policy.config.all_features()
    blobs = observation_blobs(robot.get_observation(), policy_features, "jpeg")
    return [
        encode_frame(Kind.HELLO, hello_header(TOKEN, "fake_arm", features)),
        encode_frame(Kind.WELCOME, welcome_header("act", policy_features, 10, 0.01)),
        encode_frame(Kind.OBSERVATION, observation_header(3, 1.0), blobs),
        encode_frame(Kind.CHUNK, *chunk_message(3, 1.0, np.ones((10, 6)), 0.01)),
    ]


def mutate(frame: bytes, rng: random.Random) -> bytes:
    """A random corruption: random bytes, a cut, a huge length, flipped or inserted bytes."""
    choice = rng.randrange(6)
    if choice == 0:
        return rng.randbytes(rng.randrange(1, 400))
    if choice == 1:
        return frame[: rng.randrange(len(frame))]
    if choice == 2:
        huge = PREAMBLE.pack(
            MAGIC, PROTOCOL_VERSION, frame[6], 0, rng.randrange(2**32), rng.randrange(2**32)
        )
        return huge + frame[PREAMBLE.size :]
    data = bytearray(frame)
    for _ in range(rng.randrange(1, 8)):
        i = rng.randrange(len(data))
        if choice == 3:
            data[i] = rng.randrange(256)
        elif choice == 4:
            data.insert(i, rng.randrange(256))
        else:
            del data[i]
    return bytes(data)


def parse_any(data: bytes, policy: Policy) -> None:
    """Everything a peer's bytes go through; may raise only a bricobot error."""
    kind, head_n, payload_n = decode_preamble(
        data[: PREAMBLE.size].ljust(PREAMBLE.size, b"\0"), LIMITS
    )
    body = data[PREAMBLE.size :]
    frame = decode_body(kind, body[:head_n], body[head_n : head_n + payload_n])
    features = policy.config.all_features()
    for parse in (
        parse_hello,
        parse_welcome,
        lambda f: parse_observation(f, features),
        lambda f: parse_chunk(f, 6),
    ):
        with contextlib.suppress(BricobotError):
            parse(frame)


def test_decoding_fuzzed_frames_raises_only_protocol_errors(
    robot: FakeRobot, policy: Policy
) -> None:
    rng = random.Random(1234)
    frames = valid_frames(robot, policy)
    refused = accepted = 0
    for _ in range(CASES):
        data = mutate(rng.choice(frames), rng)
        try:
            parse_any(data, policy)
            accepted += 1  # a corruption that left a valid frame (a flipped payload byte)
        except BricobotError:
            refused += 1
    assert refused + accepted == CASES and refused > CASES // 2
    print(
        f"fuzzed frames: {CASES} decoded, {refused} refused by a protocol rule, {accepted} still valid"
    )


def test_the_server_survives_fuzzed_connections_and_keeps_serving(
    server: PolicyServer, robot: FakeRobot, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(99)
    frames = valid_frames(robot, policy)
    hello, observation = frames[0], frames[2]
    good = connect(server, robot)
    try:
        for i in range(CONNECTIONS):
            prefix = b"" if i % 3 == 0 else hello  # some fuzz only after a good handshake
            data = prefix + mutate(rng.choice([hello, observation]), rng)
            # The server may refuse and reset the connection at any point: that is its job.
            with (
                socket.create_connection(server.address, timeout=10) as sock,
                contextlib.suppress(ConnectionError, OSError),
            ):
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)  # a truncated frame ends here instead of idling
                while sock.recv(65536):
                    pass
            if i % 20 == 0:
                assert ask(good, robot, seq=i).shape == (10, 6)
        assert ask(good, robot, seq=CONNECTIONS).shape == (10, 6)
    finally:
        good.close()
    assert "unexpected error" not in caplog.text
    print(
        f"fuzzed connections: {CONNECTIONS}, closed for errors: {server.bad_clients}, chunks sent: {server.chunks_sent}"
    )


def test_fuzzed_replies_never_reach_the_arm(policy: Policy, robot: FakeRobot) -> None:
    """Corrupted replies (never a valid chunk: bad magic, cuts, huge lengths, broken headers)."""
    rng = random.Random(7)
    chunk = encode_frame(Kind.CHUNK, *chunk_message(0, 0.0, np.ones((10, 6)), 0.0))
    head_end = PREAMBLE.size + int.from_bytes(chunk[8:12], "little")

    def reply() -> bytes:
        choice = rng.randrange(4)
        if choice == 0:
            return b"X" + rng.randbytes(rng.randrange(300))
        if choice == 1:
            return chunk[: rng.randrange(len(chunk))]
        if choice == 2:
            return PREAMBLE.pack(
                MAGIC, PROTOCOL_VERSION, Kind.CHUNK, 0, 10, 2**31 + rng.randrange(2**30)
            )
        data = bytearray(chunk)
        data[rng.randrange(PREAMBLE.size, head_end)] = 0xFF  # never valid UTF-8
        return bytes(data)

    server = JunkServer(policy, reply)
    clock = FakeClock()
    robot.positions = dict.fromkeys(robot.positions, 3.0)
    source = RemotePolicySource(
        client_config(server.address, request_timeout_s=0.3), robot, fps=30, clock=clock
    )
    try:
        source.connect()
        robot.connect()
        source.reset()
        steps = drive(source, robot, clock, until=lambda: server.connections >= 25)
    finally:
        source.close()
        server.close()
    assert all(step.held for step in steps)
    assert all(a == dict.fromkeys(a, 3.0) for a in robot.sent)
    print(f"fuzzed replies: {server.connections} connections, {len(steps)} steps, all held")
