"""Crash-safe dataset recording in the LeRobot v3.0 layout.

Usage (one frame per control-loop tick)::

    features = features_from_robot(robot.observation_features, robot.action_features)
    with DatasetWriter.create(root, fps=30, features=features, robot_type=robot.robot_type) as w:
        for tick in ...:
            w.add_frame(frame_from_observation(w.features, obs, sent_action,
                                               robot.capture_times_s, time_s=tick_start), task="...")
        w.save_episode()        # returns once the episode is on disk for good

What a frame holds is documented in :mod:`bricobot.datasets.schema`.

Durability. ``save_episode`` writes in this order, each file under a temporary name, fsynced and
renamed: videos, tasks, data parquet, the episodes metadata parquet (rewritten whole), stats.json,
then info.json with the new totals: that last rename is the commit point, so readers see the
episode and the totals that count it together or not at all (see
:func:`~bricobot.datasets.metadata.committed_episodes`). A kill before it leaves files and rows
that readers ignore (overwritten by the next save, or removed by ``repair``), and the dataset
passes ``validate`` as it is; a kill after it leaves the episode complete. Nothing stays open
across episodes.

Video. Each camera has its own encoder process (:mod:`bricobot.datasets.encoder`): ``add_frame``
copies the image into shared memory and returns. At save, the writer waits for the encoders to
finish and checks that every camera's file holds exactly as many frames as the data has rows.

Truthful time. With timing features (see :func:`features_from_robot`) each episode's metadata gets
``timing/max_period_error_s`` (worst deviation of a loop period from 1/fps),
``timing/overruns`` (periods longer than 1.5/fps), ``timing/max_frame_age_s`` (worst age of a
camera frame or state read at its tick) and ``timing/drifted`` (either bound of
:class:`TimingBounds` exceeded).
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.encoder import EncoderProcess
from bricobot.datasets.files import (
    TMP_SUFFIX,
    atomic_write_json,
    atomic_write_with,
    commit,
    remove_tmp_files,
    tmp_path_for,
)
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    episode_files,
    write_episode_rows,
    write_info_and_stats,
    write_tasks,
)
from bricobot.datasets.schema import FrameError
from bricobot.datasets.stats import flatten_stats, histogram_stats, numeric_stats
from bricobot.datasets.video import VideoOptions, probe_encoder

#: bricobot keeps all episodes' metadata in one file, replaced atomically at each save.
EPISODES_FILE = layout.EPISODES_PATH.format(chunk_index=0, file_index=0)


@dataclass
class TimingBounds:
    """Limits past which an episode is marked ``timing/drifted`` (in periods of 1/fps)."""

    max_period_error_periods: float = 0.5
    max_frame_age_periods: float = 2.0


class DatasetWriter:
    """Records episodes into a dataset folder. Build with :meth:`create` or :meth:`resume`."""

    def __init__(
        self,
        root: Path,
        info: dict[str, Any],
        tasks: list[str],
        episodes: list[dict[str, Any]],
        video_options: VideoOptions,
        timing_bounds: TimingBounds,
        ring_frames: int,
    ) -> None:
        self.root = root
        self.info = info
        self.features = schema.normalize(info["features"])
        self.fps = int(info["fps"])
        self.tasks = tasks
        self.episodes = episodes
        self.video_options = video_options
        self.timing_bounds = timing_bounds
        self._camera_keys = schema.camera_keys(self.features)
        self._mode = {
            k: ("video" if self.features[k]["dtype"] == "video" else "png")
            for k in self._camera_keys
        }
        self._codec = video_options.codec
        if any(m == "video" for m in self._mode.values()):
            self._codec = probe_encoder(video_options)
            for key in schema.video_keys(self.features):
                self.features[key]["info"] = self._video_info(key)
            self.info["features"] = _json_features(self.features)
        self._encoders = {
            k: EncoderProcess(k, tuple(self.features[k]["shape"]), ring_frames)  # type: ignore[arg-type]
            for k in self._camera_keys
        }
        self._value_keys = [
            k for k in schema.user_keys(self.features) if k not in self._camera_keys
        ]
        self._reset_buffer()
        self._closed = False

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: str | Path,
        fps: int,
        features: Mapping[str, Mapping[str, Any]],
        robot_type: str,
        use_videos: bool = True,
        codec: str = "libsvtav1",
        video_options: VideoOptions | None = None,
        timing_bounds: TimingBounds | None = None,
        chunks_size: int = layout.DEFAULT_CHUNKS_SIZE,
        ring_frames: int = 64,
    ) -> DatasetWriter:
        """Start a new dataset in ``root`` (which must not exist or be empty).

        ``features`` come from :func:`features_from_robot`; camera features become ``video``
        (``use_videos``) or ``image`` (PNG frames embedded in the data parquet).
        """
        root = Path(root)
        if root.exists() and _only_leftovers(root):  # a create() killed before info.json
            remove_tmp_files(root)
            (root / "meta").rmdir()
        if root.exists() and any(root.iterdir()):
            raise DatasetError(
                f"{root} already exists and is not empty: choose a new folder, or continue it with "
                "DatasetWriter.resume (`dataset.resume=true` on the command line)"
            )
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        feats = schema.normalize(features)
        check_camera_shapes(feats)
        for key in schema.camera_keys(feats):
            feats[key]["dtype"] = "video" if use_videos else "image"
            feats[key].pop("info", None)
        feats = schema.with_defaults(feats)
        info = layout.new_info(fps, robot_type, feats, chunks_size)
        options = video_options or VideoOptions(codec=codec)
        writer = cls(root, info, [], [], options, timing_bounds or TimingBounds(), ring_frames)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(root / layout.INFO_PATH, writer.info)  # loadable from the first moment
        write_tasks(root, [])
        writer.info = write_info_and_stats(root, writer.info, [], [])
        return writer

    @classmethod
    def resume(
        cls,
        root: str | Path,
        fps: int,
        features: Mapping[str, Mapping[str, Any]],
        robot_type: str,
        use_videos: bool = True,
        codec: str = "libsvtav1",
        video_options: VideoOptions | None = None,
        timing_bounds: TimingBounds | None = None,
        ring_frames: int = 64,
    ) -> DatasetWriter:
        """Continue an existing v3.0 dataset; refuse when fps, features, cameras or robot differ."""
        root = Path(root)
        meta = DatasetMeta.load(root)
        if meta.version != layout.CODEBASE_VERSION:
            raise DatasetError(f"{root} is a {meta.version} dataset; bricobot appends to v3.0 only")
        requested = schema.normalize(features)
        for key in schema.camera_keys(requested):
            requested[key]["dtype"] = "video" if use_videos else "image"
        requested = schema.with_defaults(requested)
        problems = schema.diff_features(meta.features, requested)
        if int(fps) != meta.fps:
            problems.insert(0, f"fps is {meta.fps} in the dataset, requested {fps}")
        if robot_type != meta.robot_type:
            problems.insert(
                0, f"robot_type is {meta.robot_type!r} in the dataset, requested {robot_type!r}"
            )
        if problems:
            raise DatasetError(
                f"cannot append to {root}: it was recorded with different settings:\n  - "
                + "\n  - ".join(problems)
                + "\nRecord into a new folder, or match the dataset's settings."
            )
        others = [p for p in episode_files(root) if p != root / EPISODES_FILE]
        if others:
            raise DatasetError(
                f"{root} keeps its episodes metadata in several files ({others[0]}, ...); run "
                f"`bricobot dataset repair root={root}` once to merge them, then resume"
            )
        remove_tmp_files(root)
        options = video_options or VideoOptions(codec=codec)
        writer = cls(
            root,
            dict(meta.info),
            list(meta.tasks),
            list(meta.episodes),
            options,
            timing_bounds or TimingBounds(),
            ring_frames,
        )
        if meta.leftovers:  # an interrupted save: drop its rows and tasks, rewrite stats.json
            write_episode_rows(root / EPISODES_FILE, writer.episodes)
            write_tasks(root, writer.tasks)
            writer.info = write_info_and_stats(root, writer.info, writer.tasks, writer.episodes)
        return writer

    # -- recording ----------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return int(sum(int(ep["length"]) for ep in self.episodes))

    @property
    def episode_frames(self) -> int:
        """Frames added to the episode being recorded."""
        return self._n

    def add_frame(self, frame: Mapping[str, Any], task: str) -> None:
        """Append one frame (see :mod:`bricobot.datasets.schema`) to the current episode.

        A frame or task that cannot be stored raises :class:`FrameError` before anything is
        buffered, so the episode and the writer stay usable.
        """
        self._check_open()
        check_task(task)
        schema.check_frame(self.features, frame)
        if self._n == 0:
            self._start_encoders()
        for key in self._value_keys:
            self._values[key].append(np.array(frame[key]))  # a copy: callers may reuse buffers
        for key in self._camera_keys:
            self._encoders[key].put(frame[key])
        if task not in self._episode_tasks:
            self._episode_tasks.append(task)
        self._frame_tasks.append(task)
        self._n += 1

    def save_episode(self) -> int:
        """Commit the current episode durably; return its index. Raises if it has no frames.

        A save that fails (a full disk, an encoder error) discards the episode and leaves the
        dataset as it was, with the writer ready for the next episode.
        """
        self._check_open()
        if self._n == 0:
            raise DatasetError("save_episode() with no frames: add frames first (or discard)")
        ep_idx = len(self.episodes)
        try:
            reports = {k: enc.finish() for k, enc in self._encoders.items()}
            rows, tasks = self._write_episode(ep_idx, reports)
            # 6. info.json with the new totals: the commit point
            self.info = write_info_and_stats(self.root, self.info, tasks, rows)
        except BaseException:
            self.discard_episode()
            raise
        self.episodes, self.tasks = rows, tasks
        self._reset_buffer()
        return ep_idx

    def _write_episode(
        self, ep_idx: int, reports: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Steps 1-4 of a save (nothing a reader sees yet); returns the new rows and tasks."""
        chunk, file = self._file_slot()
        row: dict[str, Any] = {
            "episode_index": ep_idx,
            "tasks": list(self._episode_tasks),
            "length": self._n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.num_frames,
            "dataset_to_index": self.num_frames + self._n,
        }
        # 1. videos
        for key in schema.video_keys(self.features):
            final = self.root / layout.VIDEO_PATH.format(
                video_key=key, chunk_index=chunk, file_index=file
            )
            commit(Path(reports[key]["path"]), final)
            row.update(
                {
                    f"videos/{key}/chunk_index": chunk,
                    f"videos/{key}/file_index": file,
                    f"videos/{key}/from_timestamp": 0.0,
                    f"videos/{key}/to_timestamp": self._n / self.fps,
                }
            )
        # 2. tasks (before the episode refers to them)
        tasks = self.tasks + [t for t in self._episode_tasks if t not in self.tasks]
        if len(tasks) > len(self.tasks):
            write_tasks(self.root, tasks)
        # 3. data
        table, numeric = self._episode_table(ep_idx, reports, tasks)
        data_path = self.root / layout.DATA_PATH.format(chunk_index=chunk, file_index=file)
        atomic_write_with(data_path, lambda tmp: pq.write_table(table, tmp))
        self._remove_png_folders(reports)
        # 4. the episode's metadata row, after the committed ones (step 5, stats.json, comes with
        # the commit in write_info_and_stats)
        row.update(self._timing_report(numeric))
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        row.update(flatten_stats(self._episode_stats(numeric, reports)))
        rows = [*self.episodes, row]
        write_episode_rows(self.root / EPISODES_FILE, rows)
        return rows, tasks

    def _episode_stats(
        self, numeric: Mapping[str, np.ndarray], reports: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Per-episode statistics: numeric columns exact, cameras from the encoders' histograms."""
        ep_stats: dict[str, Any] = {k: numeric_stats(v) for k, v in numeric.items()}
        for key in self._camera_keys:
            report = reports[key]
            ep_stats[key] = histogram_stats(
                np.asarray(report["hist"]), self._n, report.get("min"), report.get("max")
            )
        return ep_stats

    def _remove_png_folders(self, reports: Mapping[str, Any]) -> None:
        """Delete an image episode's PNG frames once the data parquet holds them."""
        for key in schema.image_keys(self.features):
            folder = Path(reports[key]["path"])
            shutil.rmtree(folder, ignore_errors=True)
            for parent in (folder.parent, folder.parent.parent):  # images/<key>, images
                with contextlib.suppress(OSError):
                    parent.rmdir()

    def discard_episode(self) -> None:
        """Drop the frames recorded since the last save."""
        for enc in self._encoders.values():
            enc.abort()
        self._reset_buffer()

    def close(self) -> None:
        """Stop the encoders. Frames not saved are discarded (with a warning)."""
        if self._closed:
            return
        if self._n:
            warnings.warn(
                f"closing {self.root} with {self._n} unsaved frames: they are discarded",
                stacklevel=2,
            )
            self.discard_episode()
        for enc in self._encoders.values():
            enc.close()
        self._closed = True

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise DatasetError(f"the writer of {self.root} is closed")

    def _reset_buffer(self) -> None:
        self._n = 0
        self._values: dict[str, list[np.ndarray]] = {k: [] for k in self._value_keys}
        self._episode_tasks: list[str] = []
        self._frame_tasks: list[str] = []

    def _video_info(self, key: str) -> dict[str, Any]:
        h, w, c = self.features[key]["shape"]
        return {
            "video.height": h,
            "video.width": w,
            "video.codec": {"libsvtav1": "av1", "libx264": "h264", "libx265": "hevc"}.get(
                self._codec, self._codec
            ),
            "video.pix_fmt": self.video_options.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": self.fps,
            "video.channels": c,
            "video.g": self.video_options.gop,
            "video.crf": self.video_options.crf,
            "has_audio": False,
        }

    def _file_slot(self) -> tuple[int, int]:
        """(chunk, file) for the next episode's files: after every file the metadata refers to."""
        size = int(self.info["chunks_size"])
        used = [
            int(ep[f"{prefix}/chunk_index"]) * size + int(ep[f"{prefix}/file_index"])
            for ep in self.episodes
            for prefix in ["data", *[f"videos/{k}" for k in schema.video_keys(self.features)]]
        ]
        return layout.chunk_and_file(max(used, default=-1) + 1, size)

    def _start_encoders(self) -> None:
        ep_idx = len(self.episodes)
        chunk, file = self._file_slot()
        for key, enc in self._encoders.items():
            if self._mode[key] == "video":
                final = self.root / layout.VIDEO_PATH.format(
                    video_key=key, chunk_index=chunk, file_index=file
                )
                final.parent.mkdir(parents=True, exist_ok=True)
                enc.start(
                    tmp_path_for(final),
                    self.fps,
                    self._codec,
                    self.video_options.encoder_options(self._codec),
                    "video",
                    self.video_options.pix_fmt,
                )
            else:
                folder = self.root / layout.IMAGES_DIR.format(image_key=key, episode_index=ep_idx)
                shutil.rmtree(folder, ignore_errors=True)
                enc.start(folder, self.fps, "png", {}, "png")

    def _episode_table(
        self, ep_idx: int, reports: Mapping[str, Any], tasks: list[str]
    ) -> tuple[pa.Table, dict[str, np.ndarray]]:
        """The episode's data table and its numeric columns as arrays (N, d)."""
        n = self._n
        start = self.num_frames
        frame_index = np.arange(n, dtype=np.int64)
        numeric: dict[str, np.ndarray] = {}
        columns: dict[str, pa.Array] = {}
        for key in self._value_keys:
            spec = self.features[key]
            arr = np.stack(self._values[key]).astype(spec["dtype"]).reshape(n, -1)  # (N, d)
            numeric[key] = arr
            typ = layout.arrow_type(spec)
            if spec["shape"] == (1,):
                columns[key] = pa.array(arr[:, 0], typ)
            else:
                columns[key] = pa.FixedSizeListArray.from_arrays(
                    pa.array(arr.reshape(-1)), spec["shape"][0]
                )
        for key in schema.image_keys(self.features):
            folder = Path(reports[key]["path"])
            pngs = [
                {
                    "bytes": (folder / f"frame-{i:06d}.png").read_bytes(),
                    "path": f"frame-{i:06d}.png",
                }
                for i in range(n)
            ]
            columns[key] = pa.array(pngs, layout.arrow_type(self.features[key]))
        task_ids = np.array([tasks.index(t) for t in self._frame_tasks], dtype=np.int64)
        defaults = {
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(n, ep_idx, dtype=np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": task_ids,
        }
        for key, values in defaults.items():
            columns[key] = pa.array(values)
            numeric[key] = np.asarray(values).reshape(n, 1)
        sch = layout.arrow_schema(self.features, self.info)
        table = pa.table([columns[f.name] for f in sch], schema=sch)
        return table, numeric

    def _timing_report(self, numeric: Mapping[str, np.ndarray]) -> dict[str, Any]:
        if schema.TIME_KEY not in numeric:
            return {}
        period = 1.0 / self.fps
        t = numeric[schema.TIME_KEY][:, 0]  # (N,)
        dt = np.diff(t)
        max_err = float(np.max(np.abs(dt - period))) if len(dt) else 0.0
        overruns = int(np.sum(dt > 1.5 * period))
        ages = [
            t - numeric[k][:, 0]
            for k in numeric
            if k == schema.STATE_CAPTURE_KEY or k.startswith(schema.CAPTURE_PREFIX)
        ]
        max_age = float(np.max(np.abs(np.stack(ages)))) if ages else 0.0
        b = self.timing_bounds
        drifted = (
            max_err > b.max_period_error_periods * period
            or max_age > b.max_frame_age_periods * period
        )
        return {
            "timing/max_period_error_s": max_err,
            "timing/overruns": overruns,
            "timing/max_frame_age_s": max_age,
            "timing/drifted": bool(drifted),
        }


def _only_leftovers(root: Path) -> bool:
    """Whether ``root`` holds nothing but temporary files under ``meta/`` (a killed create)."""
    found = list(root.rglob("*"))
    return (root / "meta").is_dir() and all(
        p == root / "meta" or (p.name.endswith(TMP_SUFFIX) and p.parent == root / "meta")
        for p in found
    )


def check_task(task: object) -> None:
    """Raise :class:`FrameError` unless ``task`` is text that can be stored (UTF-8 encodable).

    Checked at ``add_frame`` so that a bad task (bytes, a str with lone surrogates, as
    ``os.fsdecode`` makes of undecodable bytes) is refused before it reaches the tasks file.
    """
    if not isinstance(task, str):
        hint = " (decode it first: task.decode('utf-8'))" if isinstance(task, bytes) else ""
        raise FrameError(f"task must be a str, got {type(task).__name__} {task!r}{hint}")
    try:
        task.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FrameError(
            f"task {task!r} is not valid text ({exc.reason} at character {exc.start}): datasets "
            "store tasks as UTF-8; pass the task as a proper str"
        ) from None


def check_camera_shapes(features: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise :class:`DatasetError` for a camera feature that is not (H, W, 3) with H, W > 0:
    a camera that has not reported its frame size would record a dataset no frame can fit."""
    for key in schema.camera_keys(features):
        shape = tuple(features[key]["shape"])
        if len(shape) != 3 or min(shape) <= 0 or shape[2] != 3:
            raise DatasetError(
                f"camera feature {key!r} has shape {shape}, not (height, width, 3) with a size: "
                "the camera did not report its frame size; set its width and height, or check "
                "that its source can be read"
            )


def _json_features(features: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: {**s, "shape": list(s["shape"])} for k, s in features.items()}
