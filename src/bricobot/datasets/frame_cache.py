"""Decoded-frame cache: every camera frame of a dataset decoded once, at a policy's input size, on disk.

Training then reads a frame with one ``pread`` instead of a video decode. The cache lives outside the
dataset folder (``$BRICOBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/bricobot``, else
``~/.cache/bricobot``, under ``frames/<dataset name>-<path hash>/<H>x<W>/``), one raw uint8 file per
camera holding ``(total_frames, H, W, 3)`` in the dataset's global frame order, so it is reused by every
run at that size and never touches the dataset.

Reads use ``pread`` rather than a memory map: the frames sit in the kernel's page cache, shared by all
DataLoader workers and evictable, and never count towards a process's resident memory, so memory stays
bounded however large the dataset.

Building is crash-safe and resumable: ``build.json`` records which episodes of which camera are
written (every few seconds, after the frames are synced to disk); an interrupted build continues
where it stopped; ``cache.json``,
written last, marks the cache complete and records what it was built from (episode lengths and the
video files' sizes and times), so a dataset that changed (episodes added, compacted, edited) gets a
fresh cache, never a stale one. Before building, the size is estimated and compared with the free
disk space; a cache that cannot fit is refused with the figures and the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.datasets.files import atomic_write_json
from bricobot.datasets.metadata import DatasetError, DatasetMeta

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
#: Free space left untouched on the cache's disk after building, in bytes.
DISK_MARGIN_BYTES = 512 * 1024**2
#: Seconds between progress checkpoints of a build (each syncs the frames written so far).
CHECKPOINT_EVERY_S = 5.0


class FrameCacheError(DatasetError):
    """The cache cannot be built (disk space, unreadable frames); the message says what to do."""


def default_cache_root() -> Path:
    """Where caches go unless told otherwise (environment variables, then ``~/.cache``)."""
    if os.environ.get("BRICOBOT_CACHE_DIR"):
        return Path(os.environ["BRICOBOT_CACHE_DIR"]) / "frames"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bricobot" / "frames"


def cache_folder(meta: DatasetMeta, size_hw: Sequence[int], cache_root: Path | None) -> Path:
    """The folder of ``meta``'s cache at ``size_hw``: one per dataset path and size."""
    digest = hashlib.sha1(str(meta.root.resolve()).encode()).hexdigest()[:10]
    root = Path(cache_root) if cache_root else default_cache_root()
    return root / f"{meta.root.name}-{digest}" / f"{int(size_hw[0])}x{int(size_hw[1])}"


def fingerprint(meta: DatasetMeta) -> str:
    """Identifies the dataset content the cache was built from (episode lengths and frame files)."""
    h = hashlib.sha256()
    for i, ep in enumerate(meta.episodes):
        h.update(f"{i}:{ep['length']}".encode())
        for key in meta.camera_keys:
            path = meta.video_path(i, key) if key in meta.video_keys else meta.data_path(i)
            st = path.stat()
            h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def estimate_bytes(meta: DatasetMeta, keys: Sequence[str], size_hw: Sequence[int]) -> int:
    """Bytes the cache of ``keys`` at ``size_hw`` takes on disk."""
    return meta.total_frames * len(keys) * int(size_hw[0]) * int(size_hw[1]) * 3


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class FrameCache:
    """Read side of a built cache: ``frames(key, rows)`` → uint8 ``(k, H, W, 3)``."""

    def __init__(
        self, folder: Path, keys: list[str], total_frames: int, size: tuple[int, int]
    ) -> None:
        self.folder = folder
        self.keys = keys
        self.total_frames = total_frames
        self.size = size
        self.frame_bytes = size[0] * size[1] * 3
        self._fds: dict[str, int] = {}
        self._pid = os.getpid()

    def _fd(self, key: str) -> int:
        if self._pid != os.getpid():  # a forked DataLoader worker opens its own descriptors
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(key)
        if fd is None:
            if key not in self.keys:
                raise KeyError(f"camera {key!r} is not in the frame cache {self.folder}")
            fd = self._fds[key] = os.open(self.folder / camera_file(key), os.O_RDONLY)
        return fd

    def frames(self, key: str, rows: np.ndarray) -> np.ndarray:
        """Frames at global frame indices ``rows`` (k,) → uint8 (k, H, W, 3)."""
        h, w = self.size
        out = np.empty((len(rows), h, w, 3), dtype=np.uint8)
        fd = self._fd(key)
        for i, row in enumerate(np.asarray(rows, dtype=np.int64)):
            if not 0 <= row < self.total_frames:
                raise IndexError(f"frame {row} is outside the cache of {self.total_frames} frames")
            data = os.pread(fd, self.frame_bytes, int(row) * self.frame_bytes)
            if len(data) != self.frame_bytes:
                raise FrameCacheError(
                    f"{self.folder / camera_file(key)} is truncated at frame {row}: delete "
                    f"{self.folder} and train again to rebuild it"
                )
            out[i] = np.frombuffer(data, np.uint8).reshape(h, w, 3)
        return out

    def close(self) -> None:
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fds"], state["_pid"] = {}, -1  # each process opens its own descriptors
        return state

    @classmethod
    def open_or_build(
        cls,
        meta: DatasetMeta,
        size_hw: Sequence[int] | None = None,
        cache_root: str | Path | None = None,
        keys: Sequence[str] | None = None,
        progress: bool = True,
    ) -> FrameCache:
        """Open the cache of ``keys`` (every camera by default) at ``size_hw`` (the cameras' own size
        by default) if it matches ``meta``; otherwise build it, or continue an interrupted build."""
        keys = list(keys) if keys is not None else list(meta.camera_keys)
        size = _resolve_size(meta, keys, size_hw)
        folder = cache_folder(meta, size, Path(cache_root) if cache_root else None)
        expected = {
            "format": CACHE_FORMAT,
            "dataset": str(meta.root.resolve()),
            "fingerprint": fingerprint(meta),
            "keys": keys,
            "total_frames": meta.total_frames,
            "size": list(size),
        }
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):  # several training processes may start at once (DDP)
            if _read_json(folder / "cache.json") != expected:
                _Builder(meta, folder, keys, size, expected, progress).run()
        return cls(folder, keys, meta.total_frames, size)


def camera_file(key: str) -> str:
    return f"{key}.u8"


def _resolve_size(
    meta: DatasetMeta, keys: Sequence[str], size_hw: Sequence[int] | None
) -> tuple[int, int]:
    if size_hw:
        return int(size_hw[0]), int(size_hw[1])
    shapes = {tuple(int(s) for s in meta.features[k]["shape"][:2]) for k in keys}
    if len(shapes) != 1:
        raise ValueError(f"cameras {keys} have sizes {sorted(shapes)}: give one size (H, W)")
    h, w = shapes.pop()
    return h, w


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class _Builder:
    """Decodes every frame into the per-camera files, episode by episode, resumably."""

    def __init__(
        self,
        meta: DatasetMeta,
        folder: Path,
        keys: list[str],
        size: tuple[int, int],
        expected: dict[str, Any],
        progress: bool,
    ) -> None:
        self.meta, self.folder, self.keys, self.size = meta, folder, keys, size
        self.expected, self.progress = expected, progress
        self.progress_path = folder / "build.json"

    def run(self) -> None:
        done = self._resume_state()
        todo = sum(
            int(ep["length"])
            for key in self.keys
            for i, ep in enumerate(self.meta.episodes)
            if i not in done[key]
        )
        self._check_disk(todo)
        from tqdm import tqdm

        need = format_bytes(estimate_bytes(self.meta, self.keys, self.size))
        h, w = self.size
        log.warning(
            "frame cache: %d frames × %d cameras at %dx%d = %s in %s",
            self.meta.total_frames,
            len(self.keys),
            h,
            w,
            need,
            self.folder,
        )
        bar = tqdm(
            total=todo,
            desc="decoding frames into the cache",
            unit="frame",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        for key in self.keys:
            self._build_camera(key, done, bar)
        bar.close()
        atomic_write_json(self.folder / "cache.json", self.expected)
        self.progress_path.unlink(missing_ok=True)

    def _resume_state(self) -> dict[str, set[int]]:
        """Episodes already written per camera, when an interrupted build of the same data exists."""
        state = _read_json(self.progress_path)
        if isinstance(state, dict) and state.get("expected") == self.expected:
            log.warning("frame cache: continuing an interrupted build in %s", self.folder)
            return {k: set(state["done"].get(k, [])) for k in self.keys}
        (self.folder / "cache.json").unlink(missing_ok=True)
        for path in self.folder.glob("*.u8"):
            path.unlink()
        self._save_progress({k: set() for k in self.keys})
        return {k: set() for k in self.keys}

    def _save_progress(self, done: dict[str, set[int]]) -> None:
        state = {"expected": self.expected, "done": {k: sorted(v) for k, v in done.items()}}
        atomic_write_json(self.progress_path, state)

    def _check_disk(self, frames_todo: int) -> None:
        need = frames_todo * self.size[0] * self.size[1] * 3
        free = shutil.disk_usage(self.folder).free
        if need + DISK_MARGIN_BYTES > free:
            raise FrameCacheError(
                f"the frame cache needs {format_bytes(need)} in {self.folder} but the disk has "
                f"{format_bytes(free)} free: free some space, put the cache on a larger disk "
                "(dataset.frame_cache_dir=<folder> or BRICOBOT_CACHE_DIR), use a smaller "
                "policy.image_size, or train from video (dataset.frame_cache=false)"
            )

    def _build_camera(self, key: str, done: dict[str, set[int]], bar: Any) -> None:
        frame_bytes = self.size[0] * self.size[1] * 3
        path = self.folder / camera_file(key)
        written: set[int] = set()
        last_checkpoint = time.monotonic()
        with path.open("r+b" if path.exists() else "w+b") as f:
            f.truncate(self.meta.total_frames * frame_bytes)
            try:
                for ep_idx in range(self.meta.total_episodes):
                    if ep_idx in done[key]:
                        continue
                    self._write_episode(f, key, ep_idx, bar)
                    written.add(ep_idx)
                    if time.monotonic() - last_checkpoint > CHECKPOINT_EVERY_S:
                        self._checkpoint(f, key, written, done)
                        last_checkpoint = time.monotonic()
            finally:  # also on Ctrl-C: the episodes written completely are kept
                self._checkpoint(f, key, written, done)

    def _write_episode(self, f: Any, key: str, ep_idx: int, bar: Any) -> None:
        from bricobot.cameras.resize import fit_frame
        from bricobot.datasets.frames import episode_frames

        frame_bytes = self.size[0] * self.size[1] * 3
        ep = self.meta.episodes[ep_idx]
        start = int(ep["dataset_from_index"])
        n = 0
        for image in episode_frames(self.meta, ep_idx, key):
            f.seek((start + n) * frame_bytes)
            f.write(np.ascontiguousarray(fit_frame(image, self.size)).tobytes())
            n += 1
            bar.update(1)
        if n != int(ep["length"]):
            raise FrameCacheError(
                f"episode {ep_idx} camera {key}: {n} frames decoded for {ep['length']} "
                f"rows; run `bricobot dataset validate root={self.meta.root}`"
            )

    def _checkpoint(self, f: Any, key: str, written: set[int], done: dict[str, set[int]]) -> None:
        """Sync the frames written so far, then record their episodes as done."""
        f.flush()
        os.fsync(f.fileno())
        done[key] |= written
        written.clear()
        self._save_progress(done)
