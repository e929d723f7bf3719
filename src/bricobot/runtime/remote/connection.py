"""One connection from the robot to a policy server: handshake, then observation → chunk.

The handshake sends the robot's feature spec and the token; the server compares the spec with its
checkpoint and refuses a mismatch, and this side runs the same check
(:func:`bricobot.policies.checkpoint.check_features`, as a local rollout does) on the spec the
server sends back, so a foreign or misconfigured server is refused too, before anything moves.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Mapping
from typing import Any

from bricobot.policies.base import ACTION_KEY, FeatureConfig
from bricobot.policies.checkpoint import check_features
from bricobot.runtime.remote.protocol import (
    Chunk,
    Kind,
    RemoteUnavailableError,
    Welcome,
    hello_header,
    observation_header,
    parse_chunk,
    parse_welcome,
)
from bricobot.runtime.remote.wire import Blob, WireError, WireLimits, read_frame, write_frame


class PolicyConnection:
    """An open, authenticated connection; :meth:`request` is one round trip."""

    def __init__(self, sock: socket.socket, welcome: Welcome, address: str, limits: WireLimits):
        self.sock = sock
        self.welcome = welcome
        self.address = address
        self.limits = limits
        self.action_dim = int(welcome.features[ACTION_KEY].shape[0])
        #: Round trip of the handshake (s): the first estimate of the request round trip.
        self.handshake_rtt_s = 0.0

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        token: str,
        robot_type: str,
        robot_features: Mapping[str, FeatureConfig],
        timeout_s: float,
        limits: WireLimits,
    ) -> PolicyConnection:
        """Connect and shake hands; refuse a server whose policy does not fit the robot."""
        address = f"{host}:{port}"
        start = time.monotonic()
        try:
            sock = socket.create_connection((host, port), timeout=timeout_s)
        except OSError as exc:
            raise RemoteUnavailableError(
                f"cannot reach a policy server at {address} ({exc.strerror or exc}): start "
                f"`bricobot serve-policy policy_path=... host=... port={port}` there, and check "
                "the address and any firewall between the machines"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            write_frame(sock, Kind.HELLO, hello_header(token, robot_type, robot_features))
            welcome = parse_welcome(read_frame(sock, limits))
            check_features(welcome.features, robot_features, what=f"robot {robot_type!r}")
        except BaseException:
            sock.close()
            raise
        connection = cls(sock, welcome, address, limits)
        connection.handshake_rtt_s = time.monotonic() - start
        return connection

    def request(
        self, seq: int, obs_time_s: float, blobs: list[Blob], timeout_s: float, steps: int = 1
    ) -> Chunk:
        """Send one observation (``steps`` of them: a history) and wait (at most about
        ``timeout_s``) for its chunk."""
        self.sock.settimeout(timeout_s)
        header = observation_header(seq, obs_time_s, steps)
        write_frame(self.sock, Kind.OBSERVATION, header, blobs)
        chunk = parse_chunk(read_frame(self.sock, self.limits), self.action_dim)
        if chunk.seq != seq:
            raise WireError(f"the server answered observation {chunk.seq}, expected {seq}")
        return chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def is_transient(exc: BaseException) -> bool:
    """Whether reconnecting may cure ``exc`` (a lost or garbled connection, a busy server, junk
    from the peer), as opposed to a refusal that will repeat (wrong token, other features)."""
    from bricobot.features import FeatureMismatchError
    from bricobot.runtime.remote.protocol import RemoteAuthError

    return not isinstance(exc, RemoteAuthError | FeatureMismatchError)


def describe(exc: BaseException) -> str:
    """A short cause for a log line: ``timed out``, ``Connection refused``, the wire rule broken."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no reply in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text: Any = str(exc) or type(exc).__name__
    return str(text)[:200]
