"""``bricobot find-cameras``: list cameras, save a snapshot of each, print what each negotiates.

Examples::

    bricobot find-cameras                                   # every camera at its default format
    bricobot find-cameras width=640 height=480 fps=30       # ask each for this format
    bricobot find-cameras 'sources=[/dev/v4l/by-id/usb-Logitech…-video-index0]'

Use the printed by-id path as ``index_or_path`` in a camera config: it does not move on replug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bricobot.cli.app import run_command


@dataclass
class FindCamerasCommandConfig:
    sources: list[str] = field(default_factory=list)  # [] = every camera found on this machine
    width: int | None = None  # ask for this size (both or neither)
    height: int | None = None
    fps: float | None = None
    measure_s: float = 1.0  # how long to measure the real frame rate
    max_index: int = 10  # non-Linux: probe indices 0..max_index-1
    output_dir: str = ""  # snapshots go here (default outputs/find-cameras/<time>/)


def run(cfg: FindCamerasCommandConfig) -> int:
    from bricobot.cameras.discovery import CameraCandidate, describe, list_cameras, probe_camera

    candidates = (
        [CameraCandidate(source=s) for s in cfg.sources]
        if cfg.sources
        else list_cameras(cfg.max_index)
    )
    if not candidates:
        print("no camera found (/dev/video* is empty): plug one in, or check `groups` has 'video'")
        return 1
    usable = 0
    for candidate in candidates:
        probe = probe_camera(
            candidate, Path(cfg.output_dir), cfg.width, cfg.height, cfg.fps, cfg.measure_s
        )
        usable += not probe.error
        print(describe(probe), flush=True)
    print(f"{usable} usable camera(s); snapshots in {cfg.output_dir}")
    return 0 if usable else 1


def main(argv: Sequence[str]) -> int:
    return run_command(
        "find-cameras",
        FindCamerasCommandConfig,
        run,
        argv,
        "List cameras, save a snapshot of each, and print the size, fps and format they negotiate.",
    )
