"""A TCP relay that delays the bytes through it: a slow network on one machine.

``DelayProxy(upstream, one_way_s=0.075, jitter_s=0.01)`` listens on 127.0.0.1 and forwards each
connection to ``upstream``, holding every piece of data for ``one_way_s`` ± ``jitter_s`` in each
direction (a round trip of about ``2 · one_way_s``); order is kept, as TCP keeps it. It can drop
every connection at once (:meth:`drop_connections`) to rehearse a network cut. The tests and
``scripts/bench/remote_latency.py`` use it to measure how well the robot side hides latency.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import socket
import threading
import time
from collections.abc import Callable


class DelayProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` with a delay in each direction."""

    def __init__(
        self, upstream: tuple[str, int], one_way_s: float, jitter_s: float = 0.0, seed: int = 0
    ) -> None:
        if one_way_s < 0 or jitter_s < 0:
            raise ValueError(f"delays must be >= 0, got {one_way_s}, {jitter_s}")
        self.upstream = upstream
        self.one_way_s = one_way_s
        self.jitter_s = jitter_s
        self._random = random.Random(seed)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, name="delay-proxy", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> DelayProxy:
        self._thread.start()
        return self

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.drop_connections()
        self._thread.join(timeout=5.0)

    def drop_connections(self) -> None:
        """Cut every connection through the proxy now (both ends see a reset or EOF)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _delay_s(self) -> float:
        with self._lock:
            jitter = self._random.uniform(-self.jitter_s, self.jitter_s)
        return max(0.0, self.one_way_s + jitter)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5.0)
            except OSError:
                client.close()  # upstream down: the client sees the connection close
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                _Pipe(source, sink, self._delay_s).start()


class _Pipe:
    """One direction: a reader stamps each piece of data with its release time, a writer sends it
    then. Release times never go backwards, so jitter delays data but does not reorder it."""

    def __init__(
        self, source: socket.socket, sink: socket.socket, delay_s: Callable[[], float]
    ) -> None:
        self.source, self.sink, self.delay_s = source, sink, delay_s
        self._queue: list[tuple[float, int, bytes]] = []
        self._ready = threading.Condition()
        self._count = 0
        self._eof = False

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        last_release = 0.0
        while True:
            try:
                data = self.source.recv(65536)
            except OSError:
                data = b""
            with self._ready:
                if not data:
                    self._eof = True
                    self._ready.notify()
                    return
                last_release = max(last_release, time.monotonic() + self.delay_s())
                self._count += 1
                heapq.heappush(self._queue, (last_release, self._count, data))
                self._ready.notify()

    def _write(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._queue) or self._eof)
                if not self._queue:  # EOF with nothing left: pass the close on
                    break
                release, _, data = self._queue[0]
            time.sleep(max(0.0, release - time.monotonic()))
            with self._ready:
                heapq.heappop(self._queue)
            try:
                self.sink.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            self.sink.shutdown(socket.SHUT_WR)
