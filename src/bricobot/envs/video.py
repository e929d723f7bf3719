"""Writing short mp4 clips (rollout videos, demo reports) with PyAV: the dataset writer's codec
(AV1, which every current browser plays, including Chromium builds without H.264), falling back to
H.264 where this FFmpeg cannot encode AV1; yuv420p."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av
import numpy as np

from bricobot.datasets.video import VideoOptions, probe_encoder, thread_scheduling_kept

#: Keyframe every second: clips are watched, not seeked frame by frame.
CLIP_OPTIONS = VideoOptions(gop=30)


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to ``path``; written to a temp name, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    count = 0
    codec = probe_encoder(CLIP_OPTIONS)
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
    tmp.replace(path)
    return path
