"""``bricobot serve-policy``: serve a checkpoint's action chunks to robots on other machines.

Run it on the machine with the GPU; the robot's machine runs ``bricobot rollout remote=HOST:PORT``::

    bricobot serve-policy policy_path=outputs/train/<time> host=0.0.0.0 port=8765 token=<secret>

It listens on 127.0.0.1 (this machine only) unless ``host`` says otherwise, and refuses to listen
on the network without a shared token (``token=`` or the ``BRICOBOT_POLICY_TOKEN`` environment
variable). ``device=auto`` uses the GPU when torch sees one. Runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bricobot.cli.app import run_command
from bricobot.runtime.remote.config import DEFAULT_PORT, TOKEN_ENV, PolicyServerConfig


@dataclass
class ServePolicyCommandConfig:
    #: A training run, a checkpoint step or a pretrained_model folder (required).
    policy_path: str = ""
    #: 127.0.0.1 = this machine only; 0.0.0.0 = every network interface (needs a token).
    host: str = "127.0.0.1"
    #: 0 lets the system choose a free port (printed at start).
    port: int = DEFAULT_PORT
    #: Shared secret the robot side gives as remote_token; "" reads BRICOBOT_POLICY_TOKEN.
    token: str = ""
    #: auto = cuda when torch sees a GPU, else cpu.
    device: str = "auto"
    max_clients: int = 8
    #: Largest message accepted from a robot (MB).
    max_message_mb: float = 32.0


def run(cfg: ServePolicyCommandConfig) -> int:
    import torch

    from bricobot.policies.checkpoint import load_policy, resolve_checkpoint
    from bricobot.runtime.remote.server import PolicyServer

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not cfg.policy_path:
        print(
            "bricobot serve-policy: give the checkpoint: policy_path=<training run or checkpoint "
            "folder>",
            file=sys.stderr,
        )
        return 2
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    server_config = PolicyServerConfig(
        host=cfg.host,
        port=cfg.port,
        token=cfg.token or os.environ.get(TOKEN_ENV, ""),
        max_clients=cfg.max_clients,
        max_message_mb=cfg.max_message_mb,
    )
    policy = load_policy(cfg.policy_path, device=device).eval()
    server = PolicyServer(policy, server_config, device=device)
    host, port = server.start()
    print(
        f"bricobot serve-policy: serving {resolve_checkpoint(cfg.policy_path)} on {host}:{port} "
        f"(device {device}); on the robot's machine: bricobot rollout ... remote=<this "
        f"machine's address>:{port}",
        flush=True,
    )
    with _stop_on_signals() as stop:
        server.serve_forever(stop)
    print(
        f"bricobot serve-policy: stopped; served {server.clients_served} robot connection(s), "
        f"{server.chunks_sent} chunks; {server.bad_clients} connection(s) closed for errors",
        flush=True,
    )
    return 0


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM while the server runs (handlers restored afterwards)."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str]) -> int:
    return run_command(
        "serve-policy",
        ServePolicyCommandConfig,
        run,
        argv,
        "Serve a checkpoint's action chunks to robots on other machines (rollout remote=...).",
    )
