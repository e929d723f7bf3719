"""``bricobot view <path>``: a local web page for a dataset or a training run.

Examples::

    bricobot view data/pick_cube                   # a dataset: episodes, videos, joint plots
    bricobot view outputs/train/20250101-120000 --open    # a run: curves, eval, rollout videos
    bricobot view data/pick_cube port=8080 host=0.0.0.0   # reachable from other machines

The page is served until Ctrl-C; it never writes into what it shows.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bricobot.cli.app import run_command


@dataclass
class ViewCommandConfig:
    #: a dataset folder (holds meta/info.json) or a training run folder (outputs/train/<time>)
    path: str = ""
    #: 127.0.0.1 keeps the page on this machine; 0.0.0.0 lets others on the network connect
    host: str = "127.0.0.1"
    #: 0 picks a free port (printed with the URL)
    port: int = 0
    #: open the page in the default web browser
    open: bool = False

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("give the folder to show: bricobot view <dataset or run folder>")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0…65535, got {self.port}")


def run(cfg: ViewCommandConfig) -> int:
    from bricobot.viewer.server import NotViewableError, serve

    try:
        server = serve(cfg.path, cfg.host, cfg.port)
    except NotViewableError as exc:
        print(f"bricobot view: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        print(
            f"bricobot view: cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc}): "
            "choose another with port=N, or port=0 for a free one",
            file=sys.stderr,
        )
        return 2
    print(f"bricobot view: {server.kind} {server.root} at {server.url}  (Ctrl-C stops)", flush=True)
    if cfg.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def hydra_args(argv: Sequence[str]) -> list[str]:
    """``<path>`` and ``--open`` as the ``path=…`` and ``open=true`` overrides Hydra reads.

    An argument is an override when it names a config key (``port=8080``); anything else, even
    with an ``=`` in it, is the path.
    """
    keys = {f.name for f in dataclasses.fields(ViewCommandConfig)}
    out = []
    for arg in argv:
        if arg == "--open":
            out.append("open=true")
        elif arg.startswith("-") or arg.lstrip("+~").split("=", 1)[0] in keys:
            out.append(arg)
        else:  # a positional path, quoted so that Hydra takes any character literally
            escaped = arg.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"path='{escaped}'")
    return out


def main(argv: Sequence[str]) -> int:
    try:
        return run_command(
            "view",
            ViewCommandConfig,
            run,
            hydra_args(argv),
            "Serve a local web page for a dataset or a training run (read-only).",
        )
    except ValueError as exc:  # the config's __post_init__ rejected a value
        print(f"bricobot view: {exc}", file=sys.stderr)
        return 2
