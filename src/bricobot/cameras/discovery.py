"""Finding cameras and probing what each one negotiates (used by ``bricobot find-cameras``).

On Linux, cameras are listed by their stable ``/dev/v4l/by-id/…`` links (they do not move when
you replug) and by ``/dev/video*``; elsewhere by index. Each one is opened as an
:class:`~bricobot.cameras.opencv.OpenCVCamera`, and a snapshot plus the negotiated size, fps and
pixel format (and the measured fps) are reported, so a config can be written from facts.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from bricobot.cameras.base import CameraError
from bricobot.cameras.opencv import OpenCVCamera, OpenCVCameraConfig

#: A probe waits this long for each frame: it reports what a camera does, it does not police it.
PROBE_READ_TIMEOUT_S = 2.0


@dataclass
class CameraCandidate:
    """A camera to probe: what to put in ``index_or_path`` and, on Linux, its device node."""

    source: str
    device: str = ""
    by_id: str = ""


@dataclass
class CameraProbe:
    """What a camera delivered: negotiated format, measured fps, snapshot path, or the error."""

    candidate: CameraCandidate
    width: int = 0
    height: int = 0
    fps: float = 0.0
    fourcc: str = ""
    measured_fps: float = 0.0
    snapshot: str = ""
    error: str = ""


def list_cameras(max_index: int = 10) -> list[CameraCandidate]:
    """Cameras on this machine: by-id links first (stable), then ``/dev/video*`` without one.

    Only capture nodes are worth probing; a webcam usually has a second, metadata-only node that
    fails to open, which the probe reports rather than hides.
    """
    if platform.system() != "Linux":
        return [CameraCandidate(source=str(i)) for i in range(max_index)]
    candidates: list[CameraCandidate] = []
    seen: set[str] = set()
    for link in sorted(glob.glob("/dev/v4l/by-id/*")):
        device = os.path.realpath(link)
        candidates.append(CameraCandidate(source=link, device=device, by_id=link))
        seen.add(device)
    for device in sorted(glob.glob("/dev/video*"), key=_video_number):
        if device not in seen:
            candidates.append(CameraCandidate(source=device, device=device))
    return candidates


def _video_number(path: str) -> int:
    match = re.search(r"(\d+)$", path)
    return int(match.group(1)) if match else 0


def probe_camera(
    candidate: CameraCandidate,
    output_dir: Path,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    measure_s: float = 1.0,
) -> CameraProbe:
    """Open one camera, save a snapshot, and report what it negotiated and measured."""
    probe = CameraProbe(candidate=candidate)
    config = OpenCVCameraConfig(index_or_path=candidate.source, width=width, height=height, fps=fps)
    camera = OpenCVCamera(config, name=Path(candidate.source).name)
    try:
        camera.connect()
    except (CameraError, ValueError) as exc:
        probe.error = str(exc)
        return probe
    try:
        negotiated = camera.negotiated
        probe.width, probe.height = negotiated.width, negotiated.height
        probe.fps, probe.fourcc = negotiated.fps, negotiated.fourcc
        frame = camera.read(timeout_s=PROBE_READ_TIMEOUT_S)
        deadline = time.monotonic() + measure_s
        while time.monotonic() < deadline:
            frame = camera.read(timeout_s=PROBE_READ_TIMEOUT_S)
        probe.measured_fps = camera.measured_fps
        output_dir.mkdir(parents=True, exist_ok=True)
        path = output_dir / f"{_safe_name(candidate.source)}.png"
        cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        probe.snapshot = str(path)
    except CameraError as exc:
        probe.error = str(exc)
    finally:
        camera.disconnect()
    return probe


def _safe_name(source: str) -> str:
    name = Path(source).name if not source.isdigit() else f"camera_{source}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "camera"


def describe(probe: CameraProbe) -> str:
    """One line a user can act on."""
    c = probe.candidate
    where = c.by_id or c.source
    if c.device and c.device != where:
        where += f" -> {c.device}"
    if probe.error:
        return f"{where}: not usable: {probe.error}"
    return (
        f"{where}: {probe.width}×{probe.height} {probe.fourcc or '?'} at {probe.fps:.1f} fps "
        f"(measured {probe.measured_fps:.1f} fps); snapshot {probe.snapshot}"
    )
