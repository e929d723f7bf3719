"""Test doubles for the remote-policy tests: a slow policy and a server that answers with junk."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from bricobot.policies.base import Policy
from bricobot.runtime.remote.protocol import Kind, parse_hello, welcome_header
from bricobot.runtime.remote.wire import WireLimits, read_frame, write_frame


class SlowPolicy:
    """Wraps a policy: each chunk waits for ``gate`` and then ``delay_s`` (a slow GPU, a hang)."""

    def __init__(self, policy: Policy, delay_s: float = 0.0) -> None:
        self.policy = policy
        self.config = policy.config
        self.delay_s = delay_s
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0

    def predict_chunk(self, batch: Any) -> Any:
        self.calls += 1
        self.gate.wait()
        time.sleep(self.delay_s)
        return self.policy.predict_chunk(batch)


class JunkServer:
    """Shakes hands like a policy server, then answers each observation with ``reply()`` bytes
    (garbage, an oversized prefix, a bad chunk) and keeps the connection open until the client
    closes it. ``connections`` counts the handshakes."""

    def __init__(self, policy: Policy, reply: Callable[[], bytes]) -> None:
        self.policy = policy
        self.reply = reply
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        limits = WireLimits()
        with contextlib.suppress(Exception), sock:
            parse_hello(read_frame(sock, limits))
            features = self.policy.config.all_features()
            write_frame(sock, Kind.WELCOME, welcome_header("act", features, 10, None))
            self.connections += 1
            while not self.closed.is_set():
                read_frame(sock, limits)
                sock.sendall(self.reply())
