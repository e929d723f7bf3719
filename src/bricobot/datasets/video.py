"""Video with PyAV: encoder probing and options, stream facts, frame-accurate decoding.

Encoding happens in a separate process (see :mod:`bricobot.datasets.encoder`); this module holds
what both sides share. Decoding seeks to the keyframe before the requested time and decodes forward;
a decoded frame farther than ``tolerance_s`` from the request is an error, never a silent substitute.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

#: Codecs tried, in order, when the requested one cannot encode here.
FALLBACK_CODECS = ("libsvtav1", "libx264")

#: Encoder options per codec family; ``g`` (keyframe interval) is set from :class:`VideoOptions`.
_CODEC_DEFAULTS: dict[str, dict[str, str]] = {
    "libsvtav1": {"preset": "10"},
    # No B-frames: decode order = display order, so episodes can be concatenated by stream copy.
    "libx264": {"preset": "veryfast", "bf": "0"},
    "libx265": {"preset": "veryfast"},
}


def time_base(stream: Any) -> Fraction:
    """A stream's time base (seconds per tick); mp4 streams always have one."""
    tb = stream.time_base
    if tb is None:
        raise VideoDecodeError(f"video stream {stream} has no time base")
    return Fraction(tb)


class VideoCodecError(RuntimeError):
    """No usable video encoder or decoder; the message says what to install or choose."""


class VideoDecodeError(RuntimeError):
    """A video file could not be decoded at a requested time; the message names the file."""


@dataclass
class VideoOptions:
    """How camera streams are encoded. ``gop`` = keyframe interval in frames (small → cheap seeks)."""

    codec: str = "libsvtav1"
    crf: int = 30
    gop: int = 2
    pix_fmt: str = "yuv420p"
    # Extra encoder options (e.g. {"preset": "8"}); codec defaults apply for missing keys.
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gop < 1:
            raise ValueError(f"gop must be >= 1, got {self.gop}")
        if self.pix_fmt != "yuv420p":
            raise ValueError(f"pix_fmt must be 'yuv420p' (LeRobot format), got {self.pix_fmt!r}")

    def encoder_options(self, codec: str | None = None) -> dict[str, str]:
        codec = codec or self.codec
        opts = dict(_CODEC_DEFAULTS.get(codec, {}))
        opts.update({"g": str(self.gop), "crf": str(self.crf)})
        opts.update(self.extra)
        return opts


_REAL_TIME = {getattr(os, n) for n in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, n)}


def _thread_policies() -> dict[int, int]:
    """Scheduling policy of each thread of this process (Linux; empty elsewhere)."""
    policies: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):  # the thread may have ended meanwhile
                policies[int(tid)] = os.sched_getscheduler(int(tid))
    return policies


@contextlib.contextmanager
def thread_scheduling_kept() -> Iterator[None]:
    """Undo the real-time scheduling an encoder gives this process's threads when the block ends.

    Run as root, SVT-AV1 (``libsvtav1``) switches the thread that opens an encoder to
    ``SCHED_FIFO`` at priority 99 and never switches it back, and starts its own ~40 worker
    threads real-time too: a busy real-time encoder starves everything else on the machine (the
    control loop of a recording included), and every process started from that thread afterwards
    would be real-time as well. Wrap the first ``encode`` of each encoder (the codec opens there)
    in this: the calling thread gets its policy back, and every thread that became real-time in
    the block is put back to normal scheduling (threads that were real-time before, such as a
    control loop given ``SCHED_FIFO`` on purpose, are left alone).
    """
    if not hasattr(os, "sched_getscheduler"):
        yield
        return
    before = _thread_policies()
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if os.sched_getscheduler(0) != policy:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, policy, param)
        for tid, now in _thread_policies().items():
            if now in _REAL_TIME and before.get(tid) not in _REAL_TIME:
                with contextlib.suppress(OSError):
                    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))


def _try_encode(codec: str, options: dict[str, str]) -> str | None:
    """Encode two tiny frames in memory; return an error string, or None when it works."""
    try:
        with thread_scheduling_kept():
            _encode_two_frames(codec, options)
    except Exception as exc:  # any failure of the codec is reported the same way
        return f"{type(exc).__name__}: {exc}"
    return None


def _encode_two_frames(codec: str, options: dict[str, str]) -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream: Any = container.add_stream(codec, rate=30, options=options)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def probe_encoder(options: VideoOptions) -> str:
    """Return a codec that encodes here: the requested one, else the first working fallback.

    Falls back with one warning naming both codecs; raises :class:`VideoCodecError` when none works.
    """
    # SVT-AV1 prints its banner to stderr unless told otherwise; keep a user's own setting.
    os.environ.setdefault("SVT_LOG", "1")
    errors: dict[str, str] = {}
    for codec in (options.codec, *[c for c in FALLBACK_CODECS if c != options.codec]):
        error = _try_encode(codec, options.encoder_options(codec))
        if error is None:
            if codec != options.codec:
                warnings.warn(
                    f"video encoder {options.codec!r} is not usable here ({errors[options.codec]}); "
                    f"recording with {codec!r} instead. To get {options.codec!r}, install a PyAV "
                    "wheel whose FFmpeg includes it (`pip install -U av`).",
                    stacklevel=2,
                )
            return codec
        errors[codec] = error
    raise VideoCodecError(
        "no video encoder works here: "
        + "; ".join(f"{c}: {e}" for c, e in errors.items())
        + ". Install PyAV with its bundled FFmpeg (`pip install -U av`), or record images only "
        "(use_videos=False)."
    )


@dataclass(frozen=True)
class VideoStreamInfo:
    """Facts about the first video stream of a file, read by demuxing (no decoding)."""

    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: float
    frames: int
    first_time_s: float
    last_time_s: float


def video_stream_info(path: Path) -> VideoStreamInfo:
    """Count packets and read stream facts; raises :class:`VideoDecodeError` naming the file."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            times = []
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    times.append(float(packet.pts * packet.time_base))
            ctx = stream.codec_context
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            return VideoStreamInfo(
                codec=ctx.name,
                width=ctx.width,
                height=ctx.height,
                pix_fmt=str(ctx.pix_fmt),
                fps=fps,
                frames=len(times),
                first_time_s=min(times) if times else 0.0,
                last_time_s=max(times) if times else 0.0,
            )
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise VideoDecodeError(_decode_hint(path, exc)) from exc


def _decode_hint(path: Path, exc: BaseException) -> str:
    return (
        f"cannot read video {path}: {exc}. The file is missing or damaged; run "
        f"`bricobot dataset repair root=<dataset>` to drop the episodes that use it."
    )


class VideoDecoder:
    """Frame-accurate random access to video files, keeping one open container per file.

    Keep one instance per DataLoader worker (containers cannot cross processes). Requests that move
    forward by a few frames keep decoding instead of seeking.
    """

    def __init__(self, tolerance_s: float = 1e-4, max_open: int = 64) -> None:
        self.tolerance_s = tolerance_s
        self.max_open = max_open
        self._open: dict[str, _OpenVideo] = {}

    def frames_at(self, path: Path, times_s: list[float]) -> np.ndarray:
        """Decode the frames at ``times_s`` (seconds in the file): uint8 (k, H, W, 3) RGB."""
        video = self._get(path)
        out = []
        for t in times_s:
            try:
                out.append(video.frame_at(t, self.tolerance_s))
            except (av.FFmpegError, OSError, StopIteration) as exc:
                self.close(path)
                raise VideoDecodeError(_decode_hint(path, exc)) from exc
        return np.stack(out)

    def iter_frames(self, path: Path, start_s: float, stop_s: float) -> Any:
        """Yield uint8 (H, W, 3) frames with start_s <= time < stop_s, in order, decoding once."""
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if start_s > 0:
                    container.seek(int(start_s / time_base(stream)), stream=stream, backward=True)
                for frame in container.decode(stream):
                    t = float(frame.time or 0.0)
                    if t < start_s - self.tolerance_s:
                        continue
                    if t >= stop_s - self.tolerance_s:
                        break
                    yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, OSError) as exc:
            raise VideoDecodeError(_decode_hint(path, exc)) from exc

    def _get(self, path: Path) -> _OpenVideo:
        key = str(path)
        video = self._open.get(key)
        if video is None:
            if len(self._open) >= self.max_open:
                self.close(Path(next(iter(self._open))))
            try:
                video = _OpenVideo(key)
            except (av.FFmpegError, OSError, IndexError) as exc:
                raise VideoDecodeError(_decode_hint(path, exc)) from exc
            self._open[key] = video
        return video

    def close(self, path: Path | None = None) -> None:
        keys = list(self._open) if path is None else [str(path)]
        for key in keys:
            video = self._open.pop(key, None)
            if video is not None:
                video.container.close()

    def __getstate__(self) -> dict[str, Any]:
        # Open containers stay in the process that opened them; a worker starts with none.
        return {"tolerance_s": self.tolerance_s, "max_open": self.max_open, "_open": {}}


class _OpenVideo:
    """One open container and where its decoder stands."""

    #: Keep decoding forward (instead of seeking) when the target is at most this many frames ahead.
    FORWARD_FRAMES = 8

    def __init__(self, path: str) -> None:
        self.path = path
        self.container = av.open(path)
        self.stream = self.container.streams.video[0]
        # One decoding thread: random access gains little from threads, and a decoder thread
        # pool alive at fork() time deadlocks DataLoader workers forked from this process.
        self.stream.codec_context.thread_count = 1
        self.stream.thread_type = "SLICE"
        rate = self.stream.average_rate or self.stream.guessed_rate or 30
        self.period_s = 1.0 / float(rate)
        self._frames: Any = None
        self._last: Any = None  # last decoded av.VideoFrame

    def frame_at(self, t: float, tolerance_s: float) -> np.ndarray:
        last = self._last
        if last is not None and abs(float(last.time) - t) <= tolerance_s:
            return last.to_ndarray(format="rgb24")
        ahead = last is not None and float(last.time) < t <= float(last.time) + (
            self.FORWARD_FRAMES * self.period_s
        )
        if not ahead:
            self.container.seek(
                max(0, int(t / time_base(self.stream))), stream=self.stream, backward=True
            )
            self._frames = self.container.decode(self.stream)
        for frame in self._frames:
            self._last = frame
            ft = float(frame.time)
            if ft >= t - tolerance_s:
                if abs(ft - t) > tolerance_s:
                    break
                return frame.to_ndarray(format="rgb24")
        found = "end of stream" if self._last is None else f"{float(self._last.time):.6f} s"
        self._last, self._frames = None, None
        raise VideoDecodeError(
            f"no frame at {t:.6f} s in {self.path} (nearest decoded: {found}, tolerance "
            f"{tolerance_s} s): the video is shorter than its data or its timestamps drifted; run "
            "`bricobot dataset validate root=<dataset>`"
        )


def concat_segments(
    segments: list[tuple[Path, float, float]], out_path: Path
) -> list[tuple[float, float]]:
    """Stream-copy ``[(file, from_s, to_s)]`` into one mp4 (no re-encode); return new time ranges.

    Each segment must start on a keyframe (true for every bricobot episode). The caller commits
    ``out_path`` (written in place, e.g. under a temporary name).
    """
    ranges: list[tuple[float, float]] = []
    offset_s = 0.0
    first = av.open(str(segments[0][0]))
    try:
        out = av.open(str(out_path), "w", format="mp4")
        try:
            ostream = out.add_stream_from_template(first.streams.video[0], opaque=True)
            for path, from_s, to_s in segments:
                with av.open(str(path)) as src:
                    stream = src.streams.video[0]
                    tb = time_base(stream)
                    shift = round((offset_s - from_s) / tb)
                    n = 0
                    for packet in src.demux(stream):
                        if packet.pts is None:
                            continue
                        t = float(packet.pts * tb)
                        if t < from_s - 1e-4 or t >= to_s - 1e-4:
                            continue
                        if n == 0 and not packet.is_keyframe:
                            raise VideoDecodeError(
                                f"{path} at {from_s:.4f} s does not start on a keyframe; cannot copy"
                            )
                        packet.pts += shift
                        packet.dts = packet.pts if packet.dts is None else packet.dts + shift
                        packet.stream = ostream
                        out.mux(packet)
                        n += 1
                ranges.append((offset_s, offset_s + (to_s - from_s)))
                offset_s += to_s - from_s
        finally:
            out.close()
    finally:
        first.close()
    return ranges
