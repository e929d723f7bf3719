"""Camera frames encoded in a separate process while an episode records.

The control loop hands each frame to :meth:`EncoderProcess.put`, which copies it into a ring of
slots in a shared memory file and writes one short line to the worker's pipe: about a memory copy,
never an encode. The worker (``python -m bricobot.datasets.encoder``) encodes the frames in order
(video with PyAV, or PNG files for image datasets), accumulates per-channel image statistics, and on
``finish`` closes the file under its temporary name, fsyncs it, counts the frames in the file by
demuxing it, and reports. Frames in == frames put == frames in the file, or the episode fails loudly.

The caller waits only when the ring is full (the encoder fell more than ``ring_frames`` behind):
that wait is counted in :attr:`EncoderProcess.stalls` rather than dropping a frame.
A worker whose parent dies sees end-of-file on its pipe, deletes its partial output and exits.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

HEADER_BYTES = 64  # int64 frames consumed by the worker at offset 0
NICENESS = 10  # the encoder yields the CPU to the recording process


class EncoderError(RuntimeError):
    """The encoder process failed, died, or lost a frame; the message says which camera and file."""


def _own_process_group() -> dict[str, Any]:
    """Popen arguments putting the worker in its own process group.

    A Ctrl-C sent to the recorder's process group then never reaches the worker (the recorder
    decides to save or discard; the worker exits when its pipe closes). A process group, not a
    new session: a new session is a new scheduler autogroup, where the worker's lower priority
    would no longer yield the CPU to the control loop.
    """
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"start_new_session": True}


def _ring_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class EncoderProcess:
    """One worker process encoding one camera's frames, episode after episode."""

    def __init__(self, name: str, shape: tuple[int, int, int], ring_frames: int = 64) -> None:
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.frame_bytes = int(np.prod(self.shape))
        self.ring_frames = ring_frames
        fd, path = tempfile.mkstemp(prefix="bricobot-ring-", dir=_ring_dir())
        self.ring_path = Path(path)
        # Remove the ring even if the caller never reaches close() (exception, early exit).
        self._unlink_ring = weakref.finalize(self, self.ring_path.unlink, missing_ok=True)
        os.ftruncate(fd, HEADER_BYTES + ring_frames * self.frame_bytes)
        self._mmap = mmap.mmap(fd, HEADER_BYTES + ring_frames * self.frame_bytes)
        os.close(fd)
        self._consumed = np.frombuffer(self._mmap, dtype=np.int64, count=1, offset=0)
        self._slots = np.frombuffer(
            self._mmap, dtype=np.uint8, count=ring_frames * self.frame_bytes, offset=HEADER_BYTES
        ).reshape(ring_frames, *self.shape)  # (slots, H, W, 3)
        self._slots.fill(0)  # touch every page now, not on the control loop's first pass
        env = dict(os.environ, SVT_LOG="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bricobot.datasets.encoder", str(self.ring_path)]
            + [str(s) for s in (*self.shape, ring_frames)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            **_own_process_group(),
        )
        self._written = 0  # frames put since the process started (all episodes)
        self._episode_frames = 0
        self.stalls = 0
        self._active = False

    def start(
        self,
        path: Path,
        fps: int,
        codec: str,
        options: dict[str, str],
        mode: str = "video",
        pix_fmt: str = "yuv420p",
    ) -> None:
        """Begin an episode written to ``path`` (a temporary name; the caller renames it)."""
        if self._active:
            raise EncoderError(f"camera {self.name}: start() while an episode is open")
        self._send(
            {
                "op": "start",
                "path": str(path),
                "fps": fps,
                "codec": codec,
                "options": options,
                "mode": mode,
                "pix_fmt": pix_fmt,
            }
        )
        self._episode_frames = 0
        self._active = True

    def put(self, image: np.ndarray) -> None:
        """Queue one uint8 (H, W, 3) frame; returns after a memory copy (waits only if full)."""
        if not self._active:
            raise EncoderError(f"camera {self.name}: put() before start()")
        while self._written - int(self._consumed[0]) >= self.ring_frames:
            self.stalls += 1
            self._check_alive()
            time.sleep(0.001)
        np.copyto(self._slots[self._written % self.ring_frames], image)
        self._written += 1
        self._episode_frames += 1
        self._send_raw(b"f\n")

    def finish(self, timeout_s: float = 600.0) -> dict[str, Any]:
        """End the episode: wait for the file to be complete and fsynced; return the report.

        The report has ``frames`` (encoded and found in the file) and ``hist`` (3, 256) image
        histogram. Raises :class:`EncoderError` when the count differs from the frames put.
        """
        self._active = False
        self._send({"op": "finish"})
        reply = self._reply(timeout_s)
        if reply.get("error"):
            raise EncoderError(f"camera {self.name}: {reply['error']}")
        if reply["frames"] != self._episode_frames:
            raise EncoderError(
                f"camera {self.name}: {self._episode_frames} frames were recorded but "
                f"{reply['frames']} reached {reply['path']}; the episode is not saved"
            )
        return reply

    def abort(self) -> None:
        """Drop the current episode's output."""
        if not self._active:
            return
        self._active = False
        self._send({"op": "abort"})
        self._reply(60.0)

    def close(self) -> None:
        """Stop the worker and free the ring."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        del self._consumed, self._slots
        self._mmap.close()
        self._unlink_ring()

    def _check_alive(self) -> None:
        if self._proc.poll() is not None:
            raise EncoderError(
                f"camera {self.name}: the encoder process exited with code {self._proc.returncode}; "
                "the current episode cannot be saved (see its error output above)"
            )

    def _send(self, msg: dict[str, Any]) -> None:
        self._send_raw((json.dumps(msg) + "\n").encode())

    def _send_raw(self, data: bytes) -> None:
        self._check_alive()
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._check_alive()
            raise

    def _reply(self, timeout_s: float) -> dict[str, Any]:
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.5)
            if ready:
                line = self._proc.stdout.readline()
                if not line:
                    self._check_alive()
                    raise EncoderError(f"camera {self.name}: the encoder closed its output")
                reply: dict[str, Any] = json.loads(line)
                return reply
            self._check_alive()
            if time.monotonic() > deadline:
                raise EncoderError(
                    f"camera {self.name}: no reply from the encoder in {timeout_s} s"
                )


# ---------------------------------------------------------------------------------------------------
# Worker side


class _Episode:
    def __init__(self, msg: dict[str, Any], shape: tuple[int, int, int]) -> None:
        from bricobot.datasets.stats import ImageStatsAccumulator

        self.path = Path(msg["path"])
        self.mode = msg["mode"]
        self.frames = 0
        self.error: str | None = None
        self.stats = ImageStatsAccumulator()
        self.container: Any = None
        self.stream: Any = None
        h, w, _ = shape
        if self.mode == "video":
            import av

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.container = av.open(str(self.path), "w", format="mp4")
            self.stream = self.container.add_stream(
                msg["codec"], rate=int(msg["fps"]), options=msg["options"]
            )
            self.stream.width, self.stream.height = w, h
            self.stream.pix_fmt = msg["pix_fmt"]
        else:
            self.path.mkdir(parents=True, exist_ok=True)

    def add(self, image: np.ndarray) -> None:
        self.stats.add(image)
        if self.mode == "video":
            import av

            from bricobot.datasets.video import thread_scheduling_kept

            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self.frames
            # the codec opens at the first encode (SVT-AV1 may make threads real-time there)
            with thread_scheduling_kept() if self.frames == 0 else contextlib.nullcontext():
                packets = self.stream.encode(frame)
            for packet in packets:
                self.container.mux(packet)
        else:
            import cv2

            ok, png = cv2.imencode(".png", image[:, :, ::-1])
            if not ok:
                raise RuntimeError("PNG encoding failed")
            (self.path / f"frame-{self.frames:06d}.png").write_bytes(png.tobytes())
        self.frames += 1

    def finish(self) -> dict[str, Any]:
        from bricobot.datasets.files import fsync_file

        if self.error is not None:
            self.abort()
            return {"error": self.error}
        if self.mode == "video":
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            fsync_file(self.path)
            from bricobot.datasets.video import video_stream_info

            in_file = video_stream_info(self.path).frames
        else:
            pngs = sorted(self.path.glob("frame-*.png"))
            for png in pngs:
                fsync_file(png)
            in_file = len(pngs)
        if in_file != self.frames:
            return {"error": f"{self.frames} frames encoded but {in_file} in {self.path}"}
        return {
            "frames": in_file,
            "path": str(self.path),
            "hist": self.stats.hist.tolist(),
            "min": self.stats.lo.tolist(),
            "max": self.stats.hi.tolist(),
        }

    def abort(self) -> None:
        import shutil

        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.close()
        if self.path.is_dir():
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.path.unlink(missing_ok=True)


def _control(
    msg: dict[str, Any], episode: _Episode | None, shape: tuple[int, int, int], out: Any
) -> _Episode | None:
    """One control message of the recorder (start / finish / abort an episode); returns the
    episode being encoded afterwards. Finish and abort are answered with one JSON line."""
    if msg["op"] == "start":
        try:
            return _Episode(msg, shape)
        except Exception as exc:
            print(f"encoder: cannot start {msg['path']}: {exc}", file=sys.stderr)
            return None
    if msg["op"] == "finish":
        if episode is None:
            reply: dict[str, Any] = {"error": "the encoder could not open its output file"}
        else:
            try:
                reply = episode.finish()
            except Exception as exc:
                reply = {"error": f"finishing {episode.path} failed: {exc}"}
    elif msg["op"] == "abort":
        if episode is not None:
            episode.abort()
        reply = {"aborted": True}
    else:
        return episode
    out.write(json.dumps(reply) + "\n")
    out.flush()
    return None


def worker_main(argv: list[str]) -> int:
    ring_path, h, w, c, slots = argv[0], *map(int, argv[1:])
    # Ctrl-C reaches the whole process group: the recorder decides whether to save or discard,
    # so the worker keeps going until its pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the control loop's priority: the ring absorbs bursts, the loop must not be preempted.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    shape = (h, w, c)
    frame_bytes = h * w * c
    try:
        with open(ring_path, "r+b") as f:
            mem = mmap.mmap(f.fileno(), HEADER_BYTES + slots * frame_bytes)
    except FileNotFoundError:
        return 0  # the recorder exited before this worker started: nothing to encode
    consumed = np.frombuffer(mem, dtype=np.int64, count=1, offset=0)
    ring = np.frombuffer(mem, dtype=np.uint8, count=slots * frame_bytes, offset=HEADER_BYTES)
    ring = ring.reshape(slots, h, w, c)  # (slots, H, W, 3)
    total = 0
    episode: _Episode | None = None
    out = sys.stdout
    try:
        for line in sys.stdin.buffer:
            if line == b"f\n":
                if episode is not None and episode.error is None:
                    try:
                        episode.add(ring[total % slots])
                    except Exception as exc:  # reported at finish; keep draining the ring
                        episode.error = f"encoding frame {episode.frames} failed: {exc}"

                total += 1
                consumed[0] = total
                continue
            episode = _control(json.loads(line), episode, shape, out)
    finally:
        # Parent gone or closed us mid-episode: leave no partial output behind.
        if episode is not None:
            episode.abort()
        del consumed, ring
        mem.close()
        Path(ring_path).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
