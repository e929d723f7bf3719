"""Writing short mp4 clips (rollout videos, demo reports) with PyAV: the dataset writer's codec
(AV1, which every current browser plays, including Chromium builds without H.264), falling back to
H.264 where this FFmpeg cannot encode AV1; yuv420p."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from bricobot.datasets.video import (
    FALLBACK_CODECS,
    VideoOptions,
    probe_encoder,
    thread_scheduling_kept,
)

#: Keyframe every second: clips are watched, not seeked frame by frame.
CLIP_OPTIONS = VideoOptions(gop=30)


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to ``path``; written to a temp name, then renamed.

    Under heavy load SVT-AV1 sometimes fails mid-clip ("bug, no frame in undisplayed queue", then
    an invalid packet). Frames given as a sequence (a list) are then encoded again, once more with
    the same codec, then with the fallback codecs; a one-pass iterator cannot be replayed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    codec = probe_encoder(CLIP_OPTIONS)
    if not isinstance(frames, Sequence):
        _encode_clip(path, tmp, frames, fps, codec)
    else:
        attempts = [codec, codec, *(c for c in FALLBACK_CODECS if c != codec)]
        for this, following in zip(attempts, [*attempts[1:], None], strict=True):
            try:
                _encode_clip(path, tmp, frames, fps, this)
                break
            except av.FFmpegError as exc:
                tmp.unlink(missing_ok=True)
                if following is None:
                    raise
                again = "again" if following == this else f"with {following}"
                warnings.warn(
                    f"encoding {path.name} with {this} failed ({exc}); encoding it {again}",
                    stacklevel=2,
                )
    tmp.replace(path)
    return path


def _encode_clip(path: Path, tmp: Path, frames: Iterable[np.ndarray], fps: int, codec: str) -> None:
    """One encoding pass of ``frames`` with ``codec`` into ``tmp`` (the clip ``path`` to be)."""
    count = 0
    with av.open(str(tmp), mode="w") as container:
        stream: Any = None
        for frame in frames:
            if stream is None:
                height, width = frame.shape[:2]
                stream = container.add_stream(
                    codec, rate=fps, options=CLIP_OPTIONS.encoder_options(codec)
                )
                stream.width, stream.height = width - width % 2, height - height % 2
                stream.pix_fmt = "yuv420p"
            image = np.ascontiguousarray(frame[: stream.height, : stream.width])
            # the codec opens at the first encode (SVT-AV1 may make threads real-time there)
            with thread_scheduling_kept() if count == 0 else contextlib.nullcontext():
                packets = stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24"))
            for packet in packets:
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError(f"no frames to write to {path}")
        for packet in stream.encode():
            container.mux(packet)
