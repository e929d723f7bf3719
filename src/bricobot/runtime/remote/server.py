"""The policy server: answers robots' observations with action chunks from one checkpoint.

One thread per connection; the model is shared and called under a lock (one forward at a time,
on the GPU when there is one). A client that breaks the protocol — garbage, a truncated or
oversized frame, a wrong token, features that do not fit — gets an ERROR message when possible and
is disconnected; the server and its other clients carry on. It listens on 127.0.0.1 unless told
otherwise, says where it listens, and refuses to listen on the network without a token.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import socket
import threading
import time

import numpy as np
import torch

from bricobot.features import FeatureMismatchError
from bricobot.policies.base import ACTION_KEY, Policy, observation_to_batch
from bricobot.policies.checkpoint import check_features
from bricobot.runtime.remote.config import PolicyServerConfig, is_loopback
from bricobot.runtime.remote.protocol import (
    Kind,
    RemoteError,
    chunk_message,
    error_header,
    parse_hello,
    parse_observation,
    parse_prefix,
    welcome_header,
)
from bricobot.runtime.remote.wire import (
    Frame,
    PeerClosedError,
    WireError,
    WireLimits,
    read_frame,
    write_frame,
)

log = logging.getLogger(__name__)


class PolicyServer:
    """Serves ``policy``'s chunks on ``config.host:config.port`` until :meth:`close`.

    ``start()`` binds and returns at once (the port is in :attr:`address`); ``serve_forever()``
    blocks until ``stop`` is set. Counters say what happened: clients served, chunks sent, and
    connections closed for breaking the protocol.
    """

    def __init__(
        self, policy: Policy, config: PolicyServerConfig, device: str | torch.device = "cpu"
    ) -> None:
        if not is_loopback(config.host) and not config.token:
            raise RemoteError(
                f"host={config.host} makes the policy server reachable from the network: set a "
                "shared token (token=<secret> or BRICOBOT_POLICY_TOKEN) and give the robot side "
                "the same (remote_token=...), or keep host=127.0.0.1"
            )
        self.policy = policy
        self.config = config
        self.device = torch.device(device)
        self.features = policy.config.all_features()
        self.limits = WireLimits(max_payload_bytes=int(config.max_message_mb * 2**20))
        self.clients_served = 0
        self.chunks_sent = 0
        self.bad_clients = 0
        self._infer_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._active: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None, "start() the server first"
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> tuple[str, int]:
        """Bind, listen, and accept clients on a background thread; return ``(host, port)``."""
        self._listener = _listen(self.config.host, self.config.port)
        self._listener.settimeout(0.2)  # lets the accept loop notice close()
        self._thread = threading.Thread(target=self._accept_loop, name="policy-server", daemon=True)
        self._thread.start()
        host, port = self.address
        where = (
            "only this machine can connect"
            if is_loopback(self.config.host)
            else "reachable from the network; clients must give the token"
        )
        log.info(
            "serving %s (chunk of %d actions, device %s) on %s:%d: %s",
            self.policy.config.type,
            self._chunk_size(),
            self.device,
            host,
            port,
            where,
        )
        if not is_loopback(self.config.host):
            log.warning("policy server listening on %s:%d, beyond this machine", host, port)
        return host, port

    def serve_forever(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set (a signal handler sets it), then close."""
        if self._listener is None:
            self.start()
        try:
            while not stop.wait(0.2):
                pass
        finally:
            self.close()

    def close(self) -> None:
        """Stop accepting, disconnect every client, and wait for the accept thread."""
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
        with self._state_lock:
            active = list(self._active)
        for sock in active:
            _shutdown(sock)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> PolicyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _n_obs_steps(self) -> int:
        """Observations the policy looks at per prediction (Diffusion Policy: a history)."""
        return int(getattr(self.policy.config, "n_obs_steps", 1))

    def _continues_prefix(self) -> bool:
        """Whether the policy takes the actions the robot executes meanwhile (Diffusion)."""
        return bool(getattr(self.policy, "continues_prefix", False))

    def _image_size(self) -> list[int]:
        """The policy's input frame size ``[h, w]`` (empty: the camera's)."""
        return list(getattr(self.policy.config, "image_size", None) or [])

    def _chunk_size(self) -> int:
        return int(
            getattr(self.policy.config, "chunk_size", 0)
            or getattr(self.policy.config, "horizon", 0)
        )

    # ------------------------------------------------------------------ connections

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                time.sleep(0.05)  # e.g. out of file descriptors: keep serving the others
                continue
            threading.Thread(
                target=self._serve_client,
                args=(sock, f"{peer[0]}:{peer[1]}"),
                name=f"policy-client-{peer[1]}",
                daemon=True,
            ).start()

    def _serve_client(self, sock: socket.socket, peer: str) -> None:
        """One client from handshake to disconnect; any protocol error closes only this one."""
        with self._state_lock:
            full = len(self._active) >= self.config.max_clients
            self._active.add(sock)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.config.handshake_timeout_s)
            if full:
                self._refuse(
                    sock,
                    peer,
                    "busy",
                    f"the server already serves {self.config.max_clients} robots (max_clients)",
                )
                return
            if not self._handshake(sock, peer):
                return
            sock.settimeout(self.config.idle_timeout_s)
            while not self._closed.is_set():
                self._answer(sock, read_frame(sock, self.limits))
        except PeerClosedError:
            log.info("robot %s disconnected", peer)
        except (WireError, OSError, RemoteError) as exc:
            self._bad_client(sock, peer, exc)
        except Exception as exc:  # never let one client take the server down
            log.exception("robot %s: unexpected error, connection closed", peer)
            self._bad_client(sock, peer, exc)
        finally:
            with self._state_lock:
                self._active.discard(sock)
            _shutdown(sock)

    def _handshake(self, sock: socket.socket, peer: str) -> bool:
        hello = parse_hello(read_frame(sock, self.limits))
        if self.config.token and not hmac.compare_digest(
            hello.token.encode(), self.config.token.encode()
        ):
            self._refuse(
                sock,
                peer,
                "auth",
                "wrong token: give the token the server was started with (remote_token=... "
                "or BRICOBOT_POLICY_TOKEN)",
            )
            return False
        try:
            check_features(self.features, hello.features, what=f"robot {hello.robot_type!r}")
        except FeatureMismatchError as exc:
            self._refuse(sock, peer, "features", str(exc))
            return False
        write_frame(
            sock,
            Kind.WELCOME,
            welcome_header(
                self.policy.config.type,
                self.features,
                self._chunk_size(),
                getattr(self.policy.config, "temporal_ensemble_coeff", None),
                self._n_obs_steps(),
                self._continues_prefix(),
                self._image_size(),
            ),
        )
        with self._state_lock:
            self.clients_served += 1
        log.info("robot %s (%s) connected", peer, hello.robot_type)
        return True

    def _answer(self, sock: socket.socket, frame: Frame) -> None:
        """Infer one chunk for an OBSERVATION frame and send it back."""
        received_s = time.monotonic()
        seq, obs_time_s, actions = self.chunk_for(frame)
        header, blobs = chunk_message(seq, obs_time_s, actions, time.monotonic() - received_s)
        with self._state_lock:
            self.chunks_sent += 1
        write_frame(sock, Kind.CHUNK, header, blobs)

    def chunk_for(self, frame: Frame) -> tuple[int, float, np.ndarray]:
        """``(seq, obs_time_s, actions (n, A))`` for an OBSERVATION frame: the checked inputs,
        one forward under the model's lock; non-finite actions raise."""
        seq, obs_time_s, inputs = parse_observation(
            frame, self.features, self._n_obs_steps(), self._image_size()
        )
        batch = observation_to_batch(inputs, self.policy.config, self.device)
        if frame.header.get("steps", 1) > 1:  # a history: (steps, ...) → (1, steps, ...)
            batch = {key: value.unsqueeze(0) for key, value in batch.items()}
        prefix = parse_prefix(frame, self.features[ACTION_KEY].shape[0])
        with self._infer_lock, torch.inference_mode():
            if prefix is not None and self._continues_prefix():
                continued = torch.tensor(prefix, device=self.device)[None]  # (1, d, A)
                chunk = self.policy.predict_chunk(batch, prefix=continued)  # (1, n, A)
            else:
                chunk = self.policy.predict_chunk(batch)  # (1, n, A)
        actions = chunk[0].detach().float().cpu().numpy()  # (n, A)
        if not np.isfinite(actions).all():
            raise RemoteError("the policy produced non-finite actions")
        return seq, obs_time_s, actions

    def _refuse(self, sock: socket.socket, peer: str, code: str, message: str) -> None:
        log.warning("robot %s refused (%s): %s", peer, code, message)
        with contextlib.suppress(OSError):
            write_frame(sock, Kind.ERROR, error_header(code, message))

    def _bad_client(self, sock: socket.socket, peer: str, exc: BaseException) -> None:
        with self._state_lock:
            self.bad_clients += 1
        if self._closed.is_set():
            return
        log.warning("robot %s: %s; connection closed", peer, str(exc)[:200] or type(exc).__name__)
        if isinstance(exc, WireError | RemoteError):
            with contextlib.suppress(OSError):
                sock.settimeout(1.0)
                write_frame(sock, Kind.ERROR, error_header("protocol", str(exc)))


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (reusable right after a restart)."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(info[0], socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(info[4])
        listener.listen(16)
    except OSError as exc:
        fix = (
            "another program (another serve-policy?) uses it: choose another port=..."
            if exc.errno == errno.EADDRINUSE
            else "check host=... (an address of this machine, 127.0.0.1 or 0.0.0.0)"
        )
        raise RemoteError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): {fix}") from exc
    return listener


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
