"""Encoder probing with fallback, frame counting, and frame-accurate decoding."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bricobot.datasets.encoder import EncoderError, EncoderProcess
from bricobot.datasets.video import (
    VideoDecodeError,
    VideoDecoder,
    VideoOptions,
    probe_encoder,
    video_stream_info,
)


def test_probe_falls_back_with_one_actionable_warning() -> None:
    with pytest.warns(UserWarning, match="'libnope' is not usable.*recording with 'libsvtav1'"):
        assert probe_encoder(VideoOptions(codec="libnope")) == "libsvtav1"
    assert probe_encoder(VideoOptions(codec="libx264")) == "libx264"


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling API")
def test_probing_the_encoder_leaves_this_threads_scheduling_as_it_was() -> None:
    # Run as root, SVT-AV1 makes the thread that opens it real-time (SCHED_FIFO 99) for good:
    # every process the recorder started afterwards would be real-time too.
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    assert probe_encoder(VideoOptions(codec="libsvtav1")) == "libsvtav1"
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == before


REAL_TIME = {getattr(os, n) for n in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, n)}


def real_time_threads(pid: int | str = "self") -> list[int]:
    """Threads of process ``pid`` under a real-time scheduling policy."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if os.sched_getscheduler(int(tid)) in REAL_TIME:
                found.append(int(tid))
        except OSError:  # ended meanwhile
            pass
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux threads")
def test_a_clip_encodes_without_real_time_threads(tmp_path) -> None:
    # Run as root, SVT-AV1 starts its ~40 encoder threads SCHED_FIFO 99: they would starve the
    # control loop (and everything else) on a small machine while a clip or an episode encodes.
    from bricobot.envs.video import write_mp4

    seen: list[list[int]] = []

    def frames():
        for i in range(8):
            if i >= 2:  # the encoder (and its threads) opened at the first frame
                seen.append(real_time_threads())
            yield np.full((64, 64, 3), 20 * i, np.uint8)

    write_mp4(tmp_path / "clip.mp4", frames(), fps=30)
    assert seen and all(found == [] for found in seen)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux threads")
def test_the_recording_encoder_process_has_no_real_time_threads(tmp_path) -> None:
    enc = EncoderProcess("cam", (48, 64, 3), ring_frames=8)
    try:
        enc.start(tmp_path / "v.mp4.tmp", 30, "libsvtav1", VideoOptions().encoder_options())
        pid = enc._proc.pid
        threads_before = len(os.listdir(f"/proc/{pid}/task"))
        for i in range(6):
            enc.put(np.full((48, 64, 3), 10 * i, np.uint8))
        for _ in range(3000):  # until the worker opened its codec (its threads appear)
            if len(os.listdir(f"/proc/{pid}/task")) > threads_before:
                break
            time.sleep(0.01)
        # SVT-AV1's threads make themselves real-time as they start — inside the first encode or,
        # on a loaded machine, after it — and the worker puts each back within milliseconds: the
        # process must reach, within a bound, half a second in which no thread is real-time.
        clean_samples, found = 0, []
        for _ in range(1000):
            found = real_time_threads(pid)
            clean_samples = 0 if found else clean_samples + 1
            if clean_samples == 20:
                break
            time.sleep(0.025)
        assert enc.finish()["frames"] == 6
    finally:
        enc.close()
    assert clean_samples == 20, f"threads still real-time after 25 s: {found}"


def test_encoder_process_counts_frames_and_decodes_frame_accurately(tmp_path) -> None:
    enc = EncoderProcess("cam", (48, 64, 3), ring_frames=4)  # small ring: exercises waiting
    try:
        out = tmp_path / "v.mp4.tmp"
        opts = VideoOptions(codec="libsvtav1")
        enc.start(out, 30, "libsvtav1", opts.encoder_options())
        for i in range(20):
            enc.put(np.full((48, 64, 3), 10 * i, np.uint8))
        report = enc.finish()
        assert report["frames"] == 20
        with pytest.raises(EncoderError, match="before start"):
            enc.put(np.zeros((48, 64, 3), np.uint8))
    finally:
        enc.close()
    assert not enc.ring_path.exists()
    final = tmp_path / "v.mp4"
    out.rename(final)
    info = video_stream_info(final)
    assert (info.frames, info.width, info.height, info.pix_fmt) == (20, 64, 48, "yuv420p")
    dec = VideoDecoder()
    frames = dec.frames_at(final, [13 / 30, 2 / 30, 3 / 30, 19 / 30])  # back, forward, random
    assert [round(float(f.mean()) / 10) for f in frames] == [13, 2, 3, 19]
    with pytest.raises(VideoDecodeError, match="no frame at"):
        dec.frames_at(final, [25 / 30])


def test_a_clip_whose_encoder_fails_mid_clip_is_encoded_again(tmp_path, monkeypatch) -> None:
    # Under load SVT-AV1 can fail mid-clip ("bug, no frame in undisplayed queue", then EINVAL
    # from the muxer): an evaluation clip is encoded again rather than ending the run.
    import av

    from bricobot.envs import video

    real_encode = video._encode_clip
    codecs_tried: list[str] = []

    def flaky_encode(path, tmp, frames, fps, codec) -> None:
        codecs_tried.append(codec)
        if len(codecs_tried) == 1:
            tmp.write_bytes(b"half a clip")
            raise av.error.ArgumentError(22, "Invalid argument", str(tmp))
        real_encode(path, tmp, frames, fps, codec)

    monkeypatch.setattr(video, "_encode_clip", flaky_encode)
    frames = [np.full((32, 48, 3), 25 * i, np.uint8) for i in range(6)]
    with pytest.warns(UserWarning, match="failed .*encoding it again"):
        clip = video.write_mp4(tmp_path / "episode_0000.mp4", frames, fps=30)
    assert codecs_tried[0] == codecs_tried[1]
    with av.open(str(clip)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode_0000.mp4"]  # no temp left


def test_a_clip_that_never_encodes_raises_the_last_error(tmp_path, monkeypatch) -> None:
    import av

    from bricobot.envs import video

    def broken_encode(path, tmp, frames, fps, codec) -> None:
        raise av.error.ArgumentError(22, "Invalid argument", str(tmp))

    monkeypatch.setattr(video, "_encode_clip", broken_encode)
    frames = [np.zeros((32, 48, 3), np.uint8)] * 3
    with pytest.warns(UserWarning), pytest.raises(av.FFmpegError):
        video.write_mp4(tmp_path / "clip.mp4", frames, fps=30)
    assert not (tmp_path / "clip.mp4").exists()
