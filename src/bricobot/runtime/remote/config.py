"""Settings of the policy server and of the robot-side client (plain dataclasses, no I/O)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

#: Environment variable both commands read the shared token from when none is given.
TOKEN_ENV = "BRICOBOT_POLICY_TOKEN"
DEFAULT_PORT = 8765
#: ``image_encoding=auto`` sends frames of up to this many bytes raw (96×128×3 is 36 KiB).
AUTO_RAW_MAX_BYTES = 64 * 1024


@dataclass
class RemoteOptions:
    """How the robot side talks to the server and turns chunks into one action per step."""

    #: Camera frames, fit to the policy's input size first, as "raw" (exact uint8: the pixels
    #: the policy sees locally), "jpeg" (small, lossy) or "auto": raw up to
    #: ``AUTO_RAW_MAX_BYTES`` per frame (e.g. the CPU presets' 96×128), JPEG above.
    image_encoding: str = "auto"
    jpeg_quality: int = 90
    #: No action computed from an observation older than this reaches the robot (s); a chunk
    #: whose observation gets older is dropped, and the arm holds its last goal instead.
    max_action_age_s: float = 1.0
    #: Average overlapping chunks (ACT's temporal ensembling); false executes the newest only.
    ensemble: bool = True
    #: Weights exp(-k·i), i = 0 the oldest chunk; null = the checkpoint's
    #: temporal_ensemble_coeff, or the newest chunk only when it has none (as it runs locally).
    ensemble_coeff: float | None = None
    #: Send, with each request, the actions the arm will execute until the answer arrives, to a
    #: policy that can continue them (Diffusion, by inpainting): its chunk starts with them, so
    #: the command does not jump at the switch. Smoother, not more successful (see the README).
    send_prefix: bool = False
    #: A new chunk is requested when ceil(latency_p90 / period) + this many fresh steps are left
    #: (latency: observation to chunk). null = auto: as often as possible (one request always in
    #: flight) for a checkpoint that ensembles every step, as ACT's temporal ensembling does
    #: locally; else 2.
    request_margin_steps: int | None = None
    connect_timeout_s: float = 5.0
    #: A reply slower than this counts as a lost connection (s).
    request_timeout_s: float = 2.0
    #: Reconnection back-off: first wait and cap (s), doubling in between.
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 2.0
    #: Largest frame accepted from the server (MB).
    max_message_mb: float = 16.0

    def encoding_for(self, frame_bytes: int) -> str:
        """The encoding of a frame of ``frame_bytes`` raw bytes (``auto`` resolved)."""
        if self.image_encoding != "auto":
            return self.image_encoding
        return "raw" if frame_bytes <= AUTO_RAW_MAX_BYTES else "jpeg"

    def __post_init__(self) -> None:
        if self.image_encoding not in ("auto", "jpeg", "raw"):
            raise ValueError(
                f"image_encoding must be auto, jpeg or raw, got {self.image_encoding!r}"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.ensemble_coeff is not None and self.ensemble_coeff < 0:
            raise ValueError(f"ensemble_coeff must be >= 0 or null, got {self.ensemble_coeff}")
        if self.request_margin_steps is not None and self.request_margin_steps < 0:
            raise ValueError(f"request_margin_steps must be >= 0, got {self.request_margin_steps}")
        positive = ("max_action_age_s", "connect_timeout_s", "request_timeout_s", "max_message_mb")
        for name in (*positive, "backoff_initial_s", "backoff_max_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass
class RemoteClientConfig:
    """Where the policy server is, the shared token, and how long an outage may last."""

    #: ``HOST:PORT`` of ``bricobot serve-policy``.
    address: str
    token: str = ""
    #: The rollout stops (the arm holding its last goal until then) after this long without a
    #: fresh action (s).
    outage_s: float = 10.0
    options: RemoteOptions = field(default_factory=RemoteOptions)

    def __post_init__(self) -> None:
        parse_address(self.address)
        if not self.outage_s > 0:
            raise ValueError(f"remote_outage_s must be > 0, got {self.outage_s}")

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_address(self.address)


@dataclass
class PolicyServerConfig:
    """Where the server listens and what it accepts."""

    #: 127.0.0.1 = this machine only; 0.0.0.0 = every network interface (needs a token).
    host: str = "127.0.0.1"
    #: 0 lets the system choose a free port (the server logs it).
    port: int = DEFAULT_PORT
    token: str = ""
    #: Robots served at once; more are refused with a clear error.
    max_clients: int = 8
    #: Largest frame accepted from a robot (MB).
    max_message_mb: float = 32.0
    #: Time a client has to complete the handshake, and may stay silent afterwards (s).
    handshake_timeout_s: float = 10.0
    idle_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, got {self.max_clients}")
        if not (
            self.max_message_mb > 0 and self.handshake_timeout_s > 0 and self.idle_timeout_s > 0
        ):
            raise ValueError("max_message_mb, handshake_timeout_s and idle_timeout_s must be > 0")


def parse_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8765"`` for IPv6) → ``(host, port)``, with a clear error."""
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(
            f"remote={address!r} is not HOST:PORT: give the policy server's address and port, "
            f"e.g. remote=192.168.1.20:{DEFAULT_PORT} (the port `bricobot serve-policy` prints)"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
