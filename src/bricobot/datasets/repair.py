"""Rebuild a dataset's metadata from what is on disk after a crash or damage.

What it does, in order: removes leftovers of interrupted writes (``*.tmp`` files, PNG folders of an
unsaved image episode); rebuilds info.json from the copy kept in the data files' parquet metadata if
it is missing or damaged, and its features from that copy (or from the data columns' types) when
they do not describe the data; reads the episodes metadata (dropping the rows and tasks of a save
interrupted before its commit), or rebuilds it from the data files when it is unreadable; drops
every episode whose data or video is missing, damaged or short (a partial episode); renumbers the
rest contiguously into new files when anything was dropped or out of place, else recomputes the
statistics that do not match the data; commits the episodes metadata, tasks, stats.json and
info.json; deletes files nothing refers to. The result passes ``validate``, or ``repair`` raises
listing what it did and what it could not fix (a lost feature name, undecodable tasks, ...).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.files import atomic_write_json, remove_tmp_files
from bricobot.datasets.frames import episode_frames
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    committed_episodes,
    episode_files,
    load_episode_rows,
    load_tasks,
    read_json,
    write_episode_rows,
    write_info_and_stats,
    write_tasks,
)
from bricobot.datasets.rewrite import (
    copy_episodes,
    delete_unreferenced,
    episode_table,
    used_file_numbers,
)
from bricobot.datasets.stats import ImageStatsAccumulator, Stats, flatten_stats, unflatten_stats
from bricobot.datasets.validate import (
    NUMERIC_ATOL,
    NUMERIC_RTOL,
    ValidationReport,
    episode_numeric_stats,
    image_stats_mismatch,
    referenced_files,
    sample_episodes,
    stats_difference,
    validate,
)
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
    """Rebuild ``root``'s metadata from its files (see the module docstring); raise
    :class:`DatasetError` naming what is still wrong when the result does not pass ``validate``."""
    root = Path(root)
    report = RepairReport(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    for path in remove_tmp_files(root):
        report.actions.append(f"removed unfinished file {path}")
    if (root / "images").exists():
        shutil.rmtree(root / "images")
        report.actions.append("removed PNG frames of an unsaved image episode")
    info, info_rebuilt = _load_or_rebuild_info(root, report)
    if info.get("codebase_version") != layout.CODEBASE_VERSION:
        raise DatasetError(
            f"{root} is a {info.get('codebase_version')} dataset; repair works on v3.0"
        )
    _repair_features(root, info, report)
    rows, tasks, rebuilt = _load_rows(root, info, info_rebuilt, report)
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
        new_rows = _refresh_stats(meta, report)
    else:
        groups = [[(meta, i)] for i in keep]
        new_rows = copy_episodes(groups, root, dict(info), tasks, used_file_numbers(meta))
        report.actions.append(f"renumbered {len(new_rows)} episodes into new files")
    _commit(root, info, tasks, new_rows, report)
    return _validated(report)


def _load_rows(
    root: Path, info: dict[str, Any], info_rebuilt: bool, report: RepairReport
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """The committed episodes rows and tasks; rows rebuilt from the data files (True) when the
    episodes metadata is unreadable. An interrupted save's rows and tasks are dropped."""
    tasks = load_tasks(root)
    rebuilt = False
    try:
        rows = load_episode_rows(root)
        if not rows and any((root / "data").rglob("*.parquet")):
            if not info_rebuilt and info.get("total_episodes") == 0:
                return [], tasks[: max(0, int(info.get("total_tasks", 0)))], False
            raise DatasetError(f"{root / layout.EPISODES_DIR} holds no episodes metadata")
    except DatasetError as exc:
        report.actions.append(f"rebuilt the episodes metadata from the data files ({exc})")
        rows, rebuilt = _rows_from_data(root, info, tasks), True
    if info_rebuilt:  # its totals are zeros, not the commit record
        return rows, tasks, rebuilt
    committed, tasks, _ = committed_episodes(info, tasks, rows)
    for row in rows[len(committed) :]:
        report.dropped_episodes.append(int(row["episode_index"]))
        report.actions.append(
            f"dropped episode {row['episode_index']}: its save was interrupted before info.json "
            "committed it (the recorder never reported it saved)"
        )
    return committed, tasks, rebuilt


def _commit(
    root: Path,
    info: dict[str, Any],
    tasks: list[str],
    rows: list[dict[str, Any]],
    report: RepairReport,
) -> None:
    """Commit the episodes rows, tasks, stats.json and info.json; delete what nothing refers to."""
    write_episode_rows(root / EPISODES_FILE, rows)
    for path in episode_files(root):
        if path != root / EPISODES_FILE:
            path.unlink()
            report.actions.append(f"merged {path} into {root / EPISODES_FILE}")
    write_tasks(root, tasks)
    before = {name: _text(root / name) for name in (layout.STATS_PATH, layout.INFO_PATH)}
    write_info_and_stats(root, info, tasks, rows)
    for name, text in before.items():
        if _text(root / name) != text:
            report.actions.append(f"rewrote {root / name} from the episodes metadata")
    new_meta = DatasetMeta.load(root)
    for path in delete_unreferenced(root, referenced_files(new_meta)):
        report.actions.append(f"removed {path} (no episode refers to it)")


def _text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _validated(report: RepairReport) -> RepairReport:
    """Validate the result; raise naming what repair could not fix."""
    report.validation = validate(report.root)
    if report.validation.ok:
        return report
    report.validation.fix = (
        "repair cannot rebuild these from the files: restore them from a backup of the dataset, "
        "or re-record the episodes concerned"
    )
    done = "".join(f"\n  - {a}" for a in report.actions) or "\n  - nothing"
    raise DatasetError(
        f"repair could not fix {report.root}. It did:{done}\nStill wrong:\n"
        f"{report.validation.summary()}"
    )


def _repair_features(root: Path, info: dict[str, Any], report: RepairReport) -> None:
    """Make info.json's features describe the data files: the copy the writer keeps in each data
    file's parquet metadata wins; without one, undescribed columns get a feature from their type."""
    copy, sch = _features_in_data(root)
    if sch is None:
        return
    current = schema.normalize(info["features"])
    if copy is not None:
        fixed = schema.normalize(copy)
    else:
        fixed = dict(current)
        for name in sch.names:
            spec = _feature_from_type(sch.field(name).type)
            if name not in fixed and spec is not None:
                fixed[name] = spec
    if schema.comparable(fixed) == schema.comparable(current):
        return
    changed = sorted(
        k
        for k in set(fixed) | set(current)
        if schema.comparable(fixed).get(k) != schema.comparable(current).get(k)
    )
    info["features"] = {k: {**s, "shape": list(s["shape"])} for k, s in fixed.items()}
    where = "the copy kept in the data files" if copy is not None else "the data files' columns"
    report.actions.append(f"rebuilt info.json features {changed} from {where}")


def _features_in_data(root: Path) -> tuple[dict[str, Any] | None, Any]:
    """(the writer's copy of the features, the schema) of the first readable data file."""
    for path in sorted((root / "data").rglob("*.parquet")):
        try:
            sch = pq.read_schema(path)
        except Exception:
            continue
        meta = sch.metadata or {}
        if layout.PARQUET_INFO_KEY in meta:
            return json.loads(meta[layout.PARQUET_INFO_KEY])["features"], sch
        return None, sch
    return None, None


#: Data column types and the feature dtype they hold.
ARROW_DTYPES = {
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.int64(): "int64",
    pa.int32(): "int32",
    pa.bool_(): "bool",
    pa.string(): "string",
}


def _feature_from_type(typ: pa.DataType) -> dict[str, Any] | None:
    """A feature spec (names unknown) for a data column of type ``typ``; None if not numeric."""
    if pa.types.is_fixed_size_list(typ) and typ.value_type in ARROW_DTYPES:
        return {"dtype": ARROW_DTYPES[typ.value_type], "shape": (typ.list_size,), "names": None}
    if typ in ARROW_DTYPES:
        return {"dtype": ARROW_DTYPES[typ], "shape": (1,), "names": None}
    return None


def _refresh_stats(meta: DatasetMeta, report: RepairReport) -> list[dict[str, Any]]:
    """The episodes rows with statistics recomputed where they are missing or do not match the
    data: numeric features from every episode's rows, cameras by decoding (missing or malformed
    ones, and those of the episodes ``validate`` samples that disagree with their frames)."""
    sample = set(sample_episodes(meta.total_episodes))
    rows = []
    for i, row in enumerate(meta.episodes):
        stored = unflatten_stats(row)
        fresh = episode_numeric_stats(meta, episode_table(meta, i))
        stale = [
            k
            for k, st in fresh.items()
            if k not in stored or stats_difference(stored[k], st, NUMERIC_RTOL, NUMERIC_ATOL)
        ]
        for key in meta.camera_keys:
            if _image_stats_unusable(stored.get(key)) or (
                i in sample and image_stats_mismatch(meta, i, key)
            ):
                fresh[key] = _decoded_stats(meta, i, key)
                stale.append(key)
        if stale:
            report.actions.append(f"recomputed the statistics of episode {i} for {stale}")
            row = {**row, **flatten_stats({k: fresh[k] for k in stale})}
        rows.append(row)
    return rows


def _image_stats_unusable(stats: Mapping[str, Any] | None) -> bool:
    if stats is None:
        return True
    return any(
        name not in stats
        or np.asarray(stats[name]).size != 3
        or not np.all(np.isfinite(np.asarray(stats[name], dtype=np.float64)))
        for name in ("min", "max", "mean", "std")
    )


def _decoded_stats(meta: DatasetMeta, ep_idx: int, key: str) -> Stats:
    acc = ImageStatsAccumulator()
    for image in episode_frames(meta, ep_idx, key):
        acc.add(image)
    return acc.result()


def _load_or_rebuild_info(root: Path, report: RepairReport) -> tuple[dict[str, Any], bool]:
    """info.json, or one rebuilt from the data files' copy (True) when it is missing or damaged."""
    try:
        info = read_json(root / layout.INFO_PATH, root)
        if isinstance(info, dict) and "features" in info and "fps" in info:
            return info, False
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
            return info, True
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
