"""Rebuild a dataset's metadata from what is on disk after a crash or damage.

What it does, in order: removes leftovers of interrupted writes (``*.tmp`` files, PNG folders of an
unsaved image episode); rebuilds info.json from the copy kept in the data files' parquet metadata if
it is missing or damaged; reads the episodes metadata, or rebuilds it from the data files when it is
unreadable; drops every episode whose data or video is missing, damaged or short (a partial
episode); renumbers the rest contiguously into new files when anything was dropped or out of place;
commits the episodes metadata, info.json and stats.json; deletes files nothing refers to.
The result passes ``validate`` or ``repair`` raises naming what it could not fix.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.files import atomic_write_json, remove_tmp_files
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    episode_files,
    load_episode_rows,
    load_tasks,
    read_json,
    write_episode_rows,
    write_info_and_stats,
)
from bricobot.datasets.rewrite import (
    copy_episodes,
    delete_unreferenced,
    episode_table,
    used_file_numbers,
)
from bricobot.datasets.validate import ValidationReport, referenced_files, validate
from bricobot.datasets.video import VideoDecodeError
from bricobot.datasets.writer import EPISODES_FILE


@dataclass
class RepairReport:
    root: Path
    actions: list[str] = field(default_factory=list)
    dropped_episodes: list[int] = field(default_factory=list)
    validation: ValidationReport | None = None

    def summary(self) -> str:
        lines = [f"{self.root}: repaired"] + [f"  - {a}" for a in self.actions or ["nothing to do"]]
        if self.validation is not None:
            lines.append(self.validation.summary())
        return "\n".join(lines)


def repair(root: str | Path) -> RepairReport:
    root = Path(root)
    report = RepairReport(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    for path in remove_tmp_files(root):
        report.actions.append(f"removed unfinished file {path}")
    if (root / "images").exists():
        shutil.rmtree(root / "images")
        report.actions.append("removed PNG frames of an unsaved image episode")
    info = _load_or_rebuild_info(root, report)
    if info.get("codebase_version") != layout.CODEBASE_VERSION:
        raise DatasetError(
            f"{root} is a {info.get('codebase_version')} dataset; repair works on v3.0"
        )
    tasks = load_tasks(root)
    rebuilt = False
    try:
        rows = load_episode_rows(root)
        if not episode_files(root) and any((root / "data").rglob("*.parquet")):
            raise DatasetError(f"{root / layout.EPISODES_DIR} holds no episodes metadata")
    except DatasetError as exc:
        rows = _rows_from_data(root, info, tasks)
        rebuilt = True
        report.actions.append(f"rebuilt the episodes metadata from the data files ({exc})")
    meta = DatasetMeta(root, info, tasks, rows, {})
    keep: list[int] = []
    for i in range(len(rows)):
        problem = _episode_problem(meta, i)
        if problem is None:
            keep.append(i)
        else:
            report.dropped_episodes.append(int(rows[i]["episode_index"]))
            report.actions.append(f"dropped episode {rows[i]['episode_index']}: {problem}")
    in_place = (
        not rebuilt
        and keep == list(range(len(rows)))
        and all(int(r["episode_index"]) == i for i, r in enumerate(rows))
        and _global_indices_ok(rows)
    )
    if in_place:
        new_rows = rows
    else:
        groups = [[(meta, i)] for i in keep]
        new_rows = copy_episodes(groups, root, dict(info), tasks, used_file_numbers(meta))
        report.actions.append(f"renumbered {len(new_rows)} episodes into new files")
    write_episode_rows(root / EPISODES_FILE, new_rows)
    for path in episode_files(root):
        if path != root / EPISODES_FILE:
            path.unlink()
            report.actions.append(f"merged {path} into {root / EPISODES_FILE}")
    write_info_and_stats(root, info, tasks, new_rows)
    new_meta = DatasetMeta.load(root)
    for path in delete_unreferenced(root, referenced_files(new_meta)):
        report.actions.append(f"removed {path} (no episode refers to it)")
    report.validation = validate(root)
    if not report.validation.ok:
        raise DatasetError(f"repair could not fix {root}:\n{report.validation.summary()}")
    return report


def _load_or_rebuild_info(root: Path, report: RepairReport) -> dict[str, Any]:
    try:
        info = read_json(root / layout.INFO_PATH, root)
        if isinstance(info, dict) and "features" in info and "fps" in info:
            return info
        problem = "lacks features or fps"
    except DatasetError as exc:
        problem = str(exc).split(":")[0]
    for path in sorted((root / "data").rglob("*.parquet")):
        try:
            meta = pq.read_schema(path).metadata or {}
        except Exception:
            continue
        if layout.PARQUET_INFO_KEY in meta:
            saved = json.loads(meta[layout.PARQUET_INFO_KEY])
            info = layout.new_info(
                saved["fps"], saved["robot_type"], schema.normalize(saved["features"])
            )
            atomic_write_json(root / layout.INFO_PATH, info)
            report.actions.append(f"rebuilt {root / layout.INFO_PATH} from {path} ({problem})")
            return info
    raise DatasetError(
        f"{root / layout.INFO_PATH} is damaged ({problem}) and no data file holds a copy of it: "
        "restore it from a backup"
    )


def _rows_from_data(root: Path, info: dict[str, Any], tasks: list[str]) -> list[dict[str, Any]]:
    """Episodes rows describing the data files on disk (stats are recomputed by the copy)."""
    features = schema.normalize(info["features"])
    fps = int(info["fps"])
    rows = []
    for path in sorted((root / "data").glob("chunk-*/file-*.parquet")):
        try:
            table = pq.read_table(path, columns=["episode_index", "task_index"])
        except Exception:
            continue
        chunk = int(path.parent.name.removeprefix("chunk-"))
        file = int(path.stem.removeprefix("file-"))
        eps = table.column("episode_index").to_numpy()
        offset_frames = 0
        for ep in dict.fromkeys(eps.tolist()):
            mask = eps == ep
            n = int(mask.sum())
            row: dict[str, Any] = {
                "episode_index": int(ep),
                "tasks": sorted(
                    {
                        tasks[int(t)]
                        for t in table.column("task_index").to_numpy()[mask]
                        if int(t) < len(tasks)
                    }
                ),
                "length": n,
                "data/chunk_index": chunk,
                "data/file_index": file,
            }
            for key in schema.video_keys(features):
                row.update(
                    {
                        f"videos/{key}/chunk_index": chunk,
                        f"videos/{key}/file_index": file,
                        f"videos/{key}/from_timestamp": offset_frames / fps,
                        f"videos/{key}/to_timestamp": (offset_frames + n) / fps,
                    }
                )
            offset_frames += n
            rows.append(row)
    rows.sort(key=lambda r: int(r["episode_index"]))
    start = 0
    for r in rows:
        r["dataset_from_index"], r["dataset_to_index"] = start, start + r["length"]
        start += r["length"]
    return rows


def _episode_problem(meta: DatasetMeta, i: int) -> str | None:
    """Why episode position ``i`` cannot be kept, or None."""
    from bricobot.datasets.validate import _frames_between
    from bricobot.datasets.video import video_stream_info

    ep = meta.episodes[i]
    length = int(ep["length"])
    try:
        table = episode_table(meta, i)
    except DatasetError as exc:
        return str(exc).split(": run")[0]
    except IndexError:
        return "its data file is missing"
    if table.num_rows != length:
        return f"{meta.data_path(i)} holds {table.num_rows} of its {length} rows"
    if not np.array_equal(table.column("frame_index").to_numpy(), np.arange(length)):
        return f"frame_index in {meta.data_path(i)} is not 0…{length - 1}"
    for key in meta.video_keys:
        path = meta.video_path(i, key)
        try:
            video_stream_info(path)
            start = meta.video_from_timestamp(i, key)
            frames = _frames_between(path, start, start + length / meta.fps)
        except (VideoDecodeError, OSError, Exception) as exc:  # any unreadable video
            return f"video {path} is unreadable ({type(exc).__name__})"
        if frames != length:
            return f"video {path} holds {frames} of its {length} frames"
    return None


def _global_indices_ok(rows: list[dict[str, Any]]) -> bool:
    start = 0
    for r in rows:
        if int(r.get("dataset_from_index", -1)) != start:
            return False
        start += int(r["length"])
    return True
