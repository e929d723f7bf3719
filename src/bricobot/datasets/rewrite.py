"""Copy episodes into new files: the common step of ``repair``, ``compact`` and ``edit``.

Episodes are copied into data and video files under file numbers that nothing refers to yet (video
by stream copy, no re-encode), renumbered and reindexed, with statistics recomputed for the numeric
features and carried over (or recomputed by decoding) for cameras. The caller then commits the
returned episodes metadata atomically and only afterwards deletes files no longer referred to, so
an interruption at any point leaves a dataset that loads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.files import atomic_write_with, commit, tmp_path_for
from bricobot.datasets.frames import episode_frames
from bricobot.datasets.metadata import DatasetMeta, read_parquet
from bricobot.datasets.stats import (
    ImageStatsAccumulator,
    flatten_stats,
    numeric_stats,
    unflatten_stats,
)
from bricobot.datasets.video import concat_segments

Source = tuple[DatasetMeta, int]  # (dataset, episode index in it)


def used_file_numbers(meta: DatasetMeta) -> int:
    """One past the largest data/video file number the metadata (or the folder) uses."""
    size = int(meta.info.get("chunks_size", layout.DEFAULT_CHUNKS_SIZE))
    best = -1
    for folder in (meta.root / "data", meta.root / "videos"):
        for path in folder.rglob("file-*.*"):
            try:
                chunk = int(path.parent.name.removeprefix("chunk-"))
                file = int(path.name.split(".")[0].removeprefix("file-"))
            except ValueError:
                continue
            best = max(best, chunk * size + file)
    return best + 1


def episode_table(meta: DatasetMeta, ep_idx: int) -> pa.Table:
    """The data rows of the episode at position ``ep_idx`` of ``meta.episodes``, in frame order."""
    table = read_parquet(meta.data_path(ep_idx), meta.root)
    stored = int(meta.episodes[ep_idx]["episode_index"])
    rows = np.flatnonzero(table.column("episode_index").to_numpy() == stored)
    return table.take(pa.array(rows))


def copy_episodes(
    groups: Sequence[Sequence[Source]],
    out_root: Path,
    out_info: dict[str, Any],
    tasks: list[str],
    first_file_number: int,
    task_map: Callable[[DatasetMeta, int, str], str] | None = None,
) -> list[dict[str, Any]]:
    """Write each group of source episodes into one new data file (+ one video per camera).

    Output episodes are numbered from 0 in order; ``tasks`` (the output task list) is extended
    with new task strings; ``task_map(meta, src_episode, task)`` may rename tasks. Returns the
    episodes-metadata rows, to be committed by the caller.
    """
    features = schema.normalize(out_info["features"])
    size = int(out_info["chunks_size"])
    rows: list[dict[str, Any]] = []
    global_index = 0
    for g, group in enumerate(groups):
        chunk, file = layout.chunk_and_file(first_file_number + g, size)
        tables = []
        group_rows: list[dict[str, Any]] = []
        for meta, src_ep in group:
            new_ep = len(rows) + len(group_rows)
            table, new_tasks = _renumbered(meta, src_ep, new_ep, global_index, tasks, task_map)
            sch = layout.arrow_schema(features, out_info)
            table = table.select([f.name for f in sch]).cast(sch)
            tables.append(table)
            row = {
                "episode_index": new_ep,
                "tasks": list(dict.fromkeys(new_tasks)),
                "length": table.num_rows,
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": global_index,
                "dataset_to_index": global_index + table.num_rows,
                **{k: v for k, v in meta.episodes[src_ep].items() if k.startswith("timing/")},
                "_stats": _episode_stats(meta, src_ep, table, features),
            }
            group_rows.append(row)
            global_index += table.num_rows
        data_path = out_root / layout.DATA_PATH.format(chunk_index=chunk, file_index=file)
        atomic_write_with(data_path, _parquet_writer(pa.concat_tables(tables)))
        for key in schema.video_keys(features):
            _write_group_video(
                group, group_rows, out_root, key, (chunk, file), int(out_info["fps"])
            )
        for row in group_rows:
            stats = row.pop("_stats")
            row["meta/episodes/chunk_index"] = 0
            row["meta/episodes/file_index"] = 0
            row.update(flatten_stats(stats))
        rows.extend(group_rows)
    return rows


def _renumbered(
    meta: DatasetMeta,
    src_ep: int,
    new_ep: int,
    first_index: int,
    tasks: list[str],
    task_map: Callable[[DatasetMeta, int, str], str] | None,
) -> tuple[pa.Table, list[str]]:
    """The source episode's rows with the new episode index, global index and task indices
    (new task strings are appended to ``tasks``); also returns each frame's task string."""
    table = episode_table(meta, src_ep)
    n = table.num_rows
    src_tasks = [meta.tasks[int(t)] for t in table.column("task_index").to_numpy()]
    new_tasks = [task_map(meta, src_ep, t) if task_map else t for t in src_tasks]
    for t in new_tasks:
        if t not in tasks:
            tasks.append(t)
    replaced = {
        "episode_index": np.full(n, new_ep, dtype=np.int64),
        "index": np.arange(first_index, first_index + n, dtype=np.int64),
        "task_index": np.array([tasks.index(t) for t in new_tasks], dtype=np.int64),
    }
    for name, values in replaced.items():
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values))
    return table, new_tasks


def _episode_stats(
    meta: DatasetMeta, src_ep: int, table: pa.Table, features: schema.FeatureDict
) -> dict[str, Any]:
    """The source episode's statistics, numeric ones recomputed from the copied rows; image
    statistics kept, or computed from the frames when the source has none."""
    stats = unflatten_stats(meta.episodes[src_ep])
    for key in schema.numeric_keys(features):
        stats[key] = numeric_stats(_as_matrix(table.column(key)))
    for key in schema.camera_keys(features):
        if key not in stats:
            acc = ImageStatsAccumulator()
            for image in episode_frames(meta, src_ep, key):
                acc.add(image)
            stats[key] = acc.result()
    return stats


def _write_group_video(
    group: Sequence[Source],
    group_rows: list[dict[str, Any]],
    out_root: Path,
    key: str,
    chunk_file: tuple[int, int],
    fps: int,
) -> None:
    """Concatenate the group's segments of camera ``key`` into one file; record each episode's
    place in it in its row."""
    chunk, file = chunk_file
    final = out_root / layout.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
    final.parent.mkdir(parents=True, exist_ok=True)
    segments = []
    for (meta, src_ep), row in zip(group, group_rows, strict=True):
        start = meta.video_from_timestamp(src_ep, key)
        segments.append((meta.video_path(src_ep, key), start, start + row["length"] / fps))
    tmp = tmp_path_for(final)
    try:
        ranges = concat_segments(segments, tmp)
        commit(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    for row, (t0, t1) in zip(group_rows, ranges, strict=True):
        row.update(
            {
                f"videos/{key}/chunk_index": chunk,
                f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": t0,
                f"videos/{key}/to_timestamp": t1,
            }
        )


def _parquet_writer(table: pa.Table) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        pq.write_table(table, tmp)

    return write


def _as_matrix(column: pa.ChunkedArray) -> np.ndarray:
    arr = column.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type) or pa.types.is_list(arr.type):
        return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1)
    return arr.to_numpy(zero_copy_only=False).reshape(-1, 1)


def delete_unreferenced(root: Path, used: set[Path]) -> list[Path]:
    """Delete data/video files that no committed metadata refers to (after a commit)."""
    removed = []
    for folder in (root / "data", root / "videos"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path not in used:
                path.unlink()
                removed.append(path)
    for folder in (root / "data", root / "videos"):
        for sub in sorted(folder.rglob("*"), reverse=True):
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()
    return removed
