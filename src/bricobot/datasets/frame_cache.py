"""Decoded-frame cache: every camera frame of a dataset decoded once into a uint8 memory map.

Training then reads frames with a memory copy instead of a video decode at every step. Build it once
per dataset (a progress bar shows the decode); it lives in ``<root>/.cache/frames-<H>x<W>/`` unless
another folder is given, one ``<camera key>.u8`` file per camera holding (total_frames, H, W, 3) in
the dataset's global frame order, plus ``cache.json``, written last, which marks it complete and
records what it was built from (a stale or partial cache is rebuilt, never read).
Frames can be resized (``size=(H, W)``) to keep the cache small; 640×480 costs 0.9 MB per frame.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.datasets.files import atomic_write_json
from bricobot.datasets.metadata import DatasetMeta

CACHE_FORMAT = 1


def fingerprint(meta: DatasetMeta) -> str:
    """Identifies the dataset content the cache was built from (episode lengths and video files)."""
    h = hashlib.sha256()
    for i, ep in enumerate(meta.episodes):
        h.update(f"{i}:{ep['length']}".encode())
        for key in meta.camera_keys:
            path = meta.video_path(i, key) if key in meta.video_keys else meta.data_path(i)
            st = path.stat()
            h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


class FrameCache:
    """Read side of a built cache: ``frames(key, rows)`` → uint8 (k, H, W, 3)."""

    def __init__(
        self, folder: Path, keys: list[str], total_frames: int, size: tuple[int, int]
    ) -> None:
        self.folder = folder
        self.keys = keys
        self.total_frames = total_frames
        self.size = size
        self._maps: dict[str, np.memmap] = {}

    def frames(self, key: str, rows: np.ndarray) -> np.ndarray:
        mm = self._maps.get(key)
        if mm is None:
            h, w = self.size
            mm = np.memmap(
                self.folder / f"{key}.u8", np.uint8, "r", shape=(self.total_frames, h, w, 3)
            )
            self._maps[key] = mm
        return np.asarray(mm[rows])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_maps"] = {}  # each worker maps the files itself
        return state

    @classmethod
    def open_or_build(
        cls,
        meta: DatasetMeta,
        folder: str | Path | None = None,
        size: tuple[int, int] | None = None,
        progress: bool = True,
    ) -> FrameCache:
        """Open the cache if it matches ``meta``, else (re)build it."""
        keys = meta.camera_keys
        if size is None:
            shapes = {tuple(meta.features[k]["shape"][:2]) for k in keys}
            if len(shapes) > 1:
                raise ValueError(f"cameras have different sizes {shapes}: pass size=(H, W)")
            size = shapes.pop() if shapes else (0, 0)
        h, w = int(size[0]), int(size[1])
        folder = Path(folder) if folder else meta.root / ".cache" / f"frames-{h}x{w}"
        expected = {
            "format": CACHE_FORMAT,
            "fingerprint": fingerprint(meta),
            "keys": keys,
            "total_frames": meta.total_frames,
            "size": [h, w],
        }
        marker = folder / "cache.json"
        if marker.exists():
            try:
                if json.loads(marker.read_text()) == expected:
                    return cls(folder, keys, meta.total_frames, (h, w))
            except json.JSONDecodeError:
                pass
        _build(meta, folder, keys, (h, w), progress)
        atomic_write_json(marker, expected)
        return cls(folder, keys, meta.total_frames, (h, w))


def _build(
    meta: DatasetMeta, folder: Path, keys: list[str], size: tuple[int, int], progress: bool
) -> None:
    import cv2
    from tqdm import tqdm

    from bricobot.datasets.frames import episode_frames

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    h, w = size
    total = meta.total_frames
    bar = tqdm(
        total=total * len(keys),
        desc=f"decoding frames into {folder}",
        unit="frame",
        disable=not progress,
    )
    for key in keys:
        mm = np.memmap(folder / f"{key}.u8", np.uint8, "w+", shape=(total, h, w, 3))
        for ep_idx, ep in enumerate(meta.episodes):
            row = int(ep["dataset_from_index"])
            n = 0
            for image in episode_frames(meta, ep_idx, key):
                if image.shape[:2] != (h, w):
                    image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
                mm[row + n] = image
                n += 1
                bar.update(1)
            if n != int(ep["length"]):
                raise RuntimeError(
                    f"episode {ep_idx} camera {key}: {n} frames decoded for {ep['length']} rows; "
                    f"run `bricobot dataset validate root={meta.root}`"
                )
        mm.flush()
        del mm
    bar.close()
