"""Training reads: a ``torch.utils.data.Dataset`` over a v3.0 or v2.1 dataset folder.

Usage::

    ds = BricobotDataset(root, delta_timestamps={"action": [i / 30 for i in range(100)]},
                         image_size=(96, 128),      # optional: frames resized (aspect kept)
                         frame_cache=True)          # optional: decode video once, on disk
    ds.meta.stats["action"]["mean"]                 # normalization statistics
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, num_workers=2)

An item maps each feature to a tensor: vectors float32 (d,), cameras float32 (C, H, W) in [0, 1]
(uint8 with ``uint8_images=True``, to convert on the GPU), plus ``task`` (str). With
``delta_timestamps={key: [offsets_s]}`` the key gets a leading time axis, (T, d) or (T, C, H, W),
and a bool ``<key>_is_pad`` (T,) marks offsets outside the episode, whose values repeat the
episode's first or last frame. Offsets must be multiples of 1/fps.

Video frames are decoded frame-accurately with PyAV, each DataLoader worker keeping its own open
files; a frame the video does not have is an error naming the file, never a neighbour. With
``image_size`` every frame is resized in the worker (:func:`bricobot.cameras.resize.fit_frame`), or
read at that size from the on-disk frame cache (:mod:`bricobot.datasets.frame_cache`). Memory does
not grow with the dataset's video: only the numeric columns are held.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from bricobot.cameras.resize import fit_frames
from bricobot.datasets import layout, schema
from bricobot.datasets.frame_cache import FrameCache
from bricobot.datasets.frames import decode_png
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    column_array,
    read_parquet,
    repair_hint,
)
from bricobot.datasets.video import VideoDecodeError, VideoDecoder
from bricobot.features import image_key, is_image_key


class BricobotDataset(torch.utils.data.Dataset):
    """Frames of the selected episodes of one dataset, with optional time windows per key."""

    def __init__(
        self,
        root: str | Path,
        episodes: Sequence[int] | None = None,
        delta_timestamps: dict[str, list[float]] | None = None,
        image_transforms: Callable[[torch.Tensor], torch.Tensor] | None = None,
        frame_cache: bool | FrameCache = False,
        image_size: Sequence[int] | None = None,
        uint8_images: bool = False,
        tolerance_s: float = 1e-4,
        cameras: Sequence[str] | None = None,
        frame_cache_dir: str | Path | None = None,
    ) -> None:
        self.meta = DatasetMeta.load(root)
        self.root = self.meta.root
        n_ep = self.meta.total_episodes
        self.episodes = list(range(n_ep)) if episodes is None else [int(e) for e in episodes]
        bad = [e for e in self.episodes if not 0 <= e < n_ep]
        if bad:
            raise ValueError(f"episodes {bad} do not exist in {self.root} (it has 0…{n_ep - 1})")
        self.image_transforms = image_transforms
        self.uint8_images = uint8_images
        self.tolerance_s = tolerance_s
        self.camera_keys = self._select_cameras(cameras)
        self.image_size = tuple(int(v) for v in image_size) if image_size else None
        self.delta_indices = self._delta_indices(delta_timestamps or {})
        self._load_columns()
        self.frame_cache: FrameCache | None = None
        if isinstance(frame_cache, FrameCache):
            self.frame_cache = frame_cache
        elif frame_cache and self.camera_keys:
            self.frame_cache = FrameCache.open_or_build(
                self.meta, self.image_size, frame_cache_dir, self.camera_keys
            )
        self._decoder: VideoDecoder | None = None
        self._decoder_pid = -1
        self._inherited_decoders: list[VideoDecoder] = []

    # -- loading ------------------------------------------------------------------------------
    def _select_cameras(self, cameras: Sequence[str] | None) -> list[str]:
        """Camera keys to read: every camera, or those named (``front`` or the full key)."""
        if cameras is None:
            return list(self.meta.camera_keys)
        keys = [c if is_image_key(c) else image_key(c) for c in cameras]
        missing = [k for k in keys if k not in self.meta.camera_keys]
        if missing:
            raise KeyError(
                f"{self.root} has no camera {missing}; its cameras: {self.meta.camera_keys or 'none'}"
            )
        return keys

    def _delta_indices(self, delta_timestamps: dict[str, list[float]]) -> dict[str, np.ndarray]:
        out = {}
        fps = self.meta.fps
        for key, offsets in delta_timestamps.items():
            if key not in self.meta.features:
                raise KeyError(f"delta_timestamps key {key!r} is not a feature of {self.root}")
            steps = np.asarray(offsets, dtype=np.float64) * fps
            rounded = np.round(steps)
            if np.any(np.abs(steps - rounded) > self.tolerance_s * fps):
                raise ValueError(
                    f"delta_timestamps[{key!r}] = {offsets}: offsets must be multiples of 1/{fps} s"
                )
            out[key] = rounded.astype(np.int64)
        return out

    def _load_columns(self) -> None:
        """Read the numeric columns of the selected episodes, checked against the metadata."""
        feats = self.meta.features
        self.value_keys = [k for k in feats if feats[k]["dtype"] in schema.NUMERIC_DTYPES]
        image_cols = [k for k in schema.image_keys(feats) if k in self.camera_keys]
        columns: dict[str, list[np.ndarray]] = {k: [] for k in self.value_keys}
        self._png: dict[str, list[Any]] = {k: [] for k in image_cols}
        ep_start: dict[int, int] = {}
        tables: dict[Path, pa.Table] = {}
        row = 0
        for ep_idx in self.episodes:
            ep = self.meta.episodes[ep_idx]
            path = self.meta.data_path(ep_idx)
            if path not in tables:
                tables = {path: read_parquet(path, self.root)}  # files are read in episode order
            table = tables[path]
            missing = [k for k in (*self.value_keys, *image_cols) if k not in table.column_names]
            if missing:
                raise DatasetError(f"{path} lacks columns {missing}: {repair_hint(self.root)}")
            eps = table.column("episode_index").to_numpy()
            rows = np.flatnonzero(eps == ep_idx)
            length = int(ep["length"])
            frame_index = table.column("frame_index").to_numpy()[rows] if len(rows) else rows
            if len(rows) != length or not np.array_equal(frame_index, np.arange(length)):
                raise DatasetError(
                    f"{path} holds {len(rows)} rows of episode {ep_idx} but its metadata says "
                    f"{length} (or frame_index is not 0…{length - 1}): {repair_hint(self.root)}"
                )
            sub = table.take(pa.array(rows))
            for key in self.value_keys:
                columns[key].append(column_array(sub.column(key), feats[key]["dtype"]))
            for key in image_cols:
                self._png[key].extend(sub.column(key).to_pylist())
            ep_start[ep_idx] = row
            row += length
        self._columns = {
            k: np.concatenate(v) if v else np.zeros((0, 1)) for k, v in columns.items()
        }
        self._num_rows = row
        self._check_task_indices()
        self._ep_start = ep_start
        self._local_row_of_global = {
            int(self.meta.episodes[e]["dataset_from_index"]): s for e, s in ep_start.items()
        }

    def _check_task_indices(self) -> None:
        """Every frame's ``task_index`` names a task of the tasks file (else reading the frame
        would fail later, in a DataLoader worker, with a bare IndexError)."""
        indices = self._columns.get("task_index")
        if indices is None or not len(indices) or int(indices.max()) < len(self.meta.tasks):
            return
        tasks_file = "meta/tasks.jsonl" if self.meta.version.startswith("v2") else layout.TASKS_PATH
        raise DatasetError(
            f"{self.root / tasks_file} lists {len(self.meta.tasks)} task(s) but the data uses "
            f"task_index {int(indices.max())}: the tasks file is missing or incomplete; restore "
            "it from a copy of the dataset"
        )

    # -- Dataset ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._num_rows

    def __getitem__(self, idx: int) -> dict[str, Any]:
        if not 0 <= idx < self._num_rows:
            raise IndexError(idx)
        ep_idx = int(self._columns["episode_index"][idx, 0])
        fi = int(self._columns["frame_index"][idx, 0])
        length = int(self.meta.episodes[ep_idx]["length"])
        start = self._ep_start[ep_idx]
        item: dict[str, Any] = {}
        for key in self.value_keys:
            if key in self.delta_indices:
                frames, pad = self._window(fi, length, key)
                item[key] = torch.from_numpy(
                    self._columns[key][start + frames].astype(np.float32)
                )  # (T, d)
                item[f"{key}_is_pad"] = torch.from_numpy(pad)
            else:
                item[key] = torch.from_numpy(self._columns[key][idx])
        for key in self.camera_keys:
            if key in self.delta_indices:
                frames, pad = self._window(fi, length, key)
                item[key] = self._images(ep_idx, key, frames)  # (T, C, H, W)
                item[f"{key}_is_pad"] = torch.from_numpy(pad)
            else:
                item[key] = self._images(ep_idx, key, np.array([fi]))[0]  # (C, H, W)
        for key in schema.DEFAULT_FEATURES:
            if key in item and key not in self.delta_indices:
                item[key] = item[key].reshape(())
        item["task"] = self.meta.tasks[int(self._columns["task_index"][idx, 0])]
        return item

    def _window(self, fi: int, length: int, key: str) -> tuple[np.ndarray, np.ndarray]:
        want = fi + self.delta_indices[key]  # (T,)
        pad = (want < 0) | (want >= length)
        return np.clip(want, 0, length - 1), pad

    def _images(self, ep_idx: int, key: str, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames of one episode → (T, C, H, W), float in [0, 1] unless uint8_images."""
        ep = self.meta.episodes[ep_idx]
        if self.frame_cache is not None:
            arr = self.frame_cache.frames(key, int(ep["dataset_from_index"]) + frames)
        elif key in self.meta.video_keys:
            t0 = self.meta.video_from_timestamp(ep_idx, key)
            times = [t0 + float(f) / self.meta.fps for f in frames]
            arr = self._decode(self.meta.video_path(ep_idx, key), times)
        else:
            start = self._ep_start[ep_idx]
            arr = np.stack(
                [
                    decode_png(
                        self._png[key][start + int(f)]["bytes"], f"{key} episode {ep_idx} frame {f}"
                    )
                    for f in frames
                ]
            )
        if self.frame_cache is None:
            arr = fit_frames(arr, self.image_size)
        out = torch.from_numpy(arr).permute(0, 3, 1, 2)  # (T, H, W, C) -> (T, C, H, W)
        if not self.uint8_images:
            out = out.float().div_(255.0)
        if self.image_transforms is not None:
            out = torch.stack([self.image_transforms(img) for img in out])
        return out

    def _decode(self, path: Path, times_s: list[float]) -> np.ndarray:
        """Frames of ``path`` at ``times_s``; a decode error names this dataset in its fix."""
        try:
            return self._video_decoder().frames_at(path, times_s)
        except VideoDecodeError as exc:
            raise VideoDecodeError(str(exc).replace("<dataset>", str(self.root))) from exc

    def _video_decoder(self) -> VideoDecoder:
        if self._decoder is None or self._decoder_pid != os.getpid():
            if self._decoder is not None:
                # Inherited through fork(): closing the parent's decoders here would wait on
                # decoder threads that do not exist in this process, so keep them untouched.
                self._inherited_decoders.append(self._decoder)
            self._decoder = VideoDecoder(tolerance_s=self.tolerance_s)
            self._decoder_pid = os.getpid()
        return self._decoder

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_decoder"], state["_decoder_pid"], state["_inherited_decoders"] = None, -1, []
        return state
