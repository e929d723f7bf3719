"""Dataset metadata: load (v3.0 and v2.1) and commit (v3.0) info, tasks, episodes and stats.

:class:`DatasetMeta` is what training code needs besides frames: ``fps``, ``features``, ``stats``
(for normalization), ``tasks`` and ``episodes`` (one dict per episode, LeRobot's episodes-parquet
columns). ``info.json`` is the commit record: a save writes its episode's data, row and tasks,
then stats.json, and commits them all by renaming info.json (with the new totals) into place, so a
reader sees an episode and its totals together or not at all; rows and tasks beyond info.json's
totals are an interrupted save's leftovers, ignored (:func:`committed_episodes`). Any other
disagreement between info.json and the episodes rows is reported as a warning; ``repair`` fixes it.

Damaged or missing files raise :class:`DatasetError` naming the file and the fix.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.files import atomic_write_json, atomic_write_with
from bricobot.datasets.stats import (
    Stats,
    aggregate_stats,
    stats_from_json,
    stats_to_json,
    unflatten_stats,
)
from bricobot.errors import BricobotError


class DatasetError(BricobotError):
    """A dataset file is missing, damaged or inconsistent; the message names the file and the fix."""


def repair_hint(root: Path) -> str:
    return f"run `bricobot dataset repair root={root}`"


def read_json(path: Path, root: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path} is missing: {repair_hint(root)} to rebuild it")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{path} is not valid JSON ({exc}): {repair_hint(root)} to rebuild it"
        ) from exc


def read_parquet(path: Path, root: Path, columns: list[str] | None = None) -> pa.Table:
    if not path.is_file():
        raise DatasetError(
            f"{path} is missing: {repair_hint(root)} to drop the episodes that use it"
        )
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(
            f"{path} is damaged ({exc}): {repair_hint(root)} to drop the episodes that use it"
        ) from exc


class DatasetMeta:
    """Metadata of one dataset folder (read-only view)."""

    def __init__(
        self,
        root: Path,
        info: dict[str, Any],
        tasks: list[str],
        episodes: list[dict[str, Any]],
        stats: dict[str, Stats],
    ) -> None:
        self.root = root
        self.info = info
        self.features = schema.normalize(info["features"])
        self.tasks = tasks
        self.episodes = episodes
        self.stats = stats
        #: What an interrupted save left that readers ignore (see :func:`committed_episodes`).
        self.leftovers: list[str] = []

    # -- facts --------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.info["codebase_version"])

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def robot_type(self) -> str:
        return str(self.info.get("robot_type"))

    @property
    def camera_keys(self) -> list[str]:
        return schema.camera_keys(self.features)

    @property
    def video_keys(self) -> list[str]:
        return schema.video_keys(self.features)

    @property
    def total_episodes(self) -> int:
        return len(self.episodes)

    @property
    def total_frames(self) -> int:
        return int(sum(int(ep["length"]) for ep in self.episodes))

    def episode_stats(self, episode_index: int) -> dict[str, Stats]:
        return unflatten_stats(self.episodes[episode_index])

    # -- paths --------------------------------------------------------------------------------
    def data_path(self, episode_index: int) -> Path:
        ep = self.episodes[episode_index]
        if self.version == "v2.1":
            chunk = episode_index // int(self.info["chunks_size"])
            rel = self.info["data_path"].format(episode_chunk=chunk, episode_index=episode_index)
        else:
            rel = self.info["data_path"].format(
                chunk_index=int(ep["data/chunk_index"]), file_index=int(ep["data/file_index"])
            )
        return self.root / rel

    def video_path(self, episode_index: int, key: str) -> Path:
        ep = self.episodes[episode_index]
        if self.version == "v2.1":
            chunk = episode_index // int(self.info["chunks_size"])
            rel = self.info["video_path"].format(
                episode_chunk=chunk, video_key=key, episode_index=episode_index
            )
        else:
            rel = self.info["video_path"].format(
                video_key=key,
                chunk_index=int(ep[f"videos/{key}/chunk_index"]),
                file_index=int(ep[f"videos/{key}/file_index"]),
            )
        return self.root / rel

    def video_from_timestamp(self, episode_index: int, key: str) -> float:
        if self.version == "v2.1":
            return 0.0
        return float(self.episodes[episode_index][f"videos/{key}/from_timestamp"])

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | Path, warn: bool = True) -> DatasetMeta:
        """Load a v3.0 or v2.1 dataset's metadata; raise :class:`DatasetError` on any damage.

        ``warn``: warn when info.json's counts lag the episodes metadata (an interrupted save).
        """
        root = Path(root)
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise DatasetError(
                f"dataset folder {root} {what}: check the path (dataset.root= or root=)"
            )
        if not (root / "meta").is_dir() and not (root / "data").is_dir():
            raise DatasetError(
                f"{root} is not a dataset: it has no {layout.INFO_PATH} and no data/; give the "
                "folder of a recorded dataset (dataset.root= or root=) or record one with "
                "`bricobot record`"
            )
        info = read_json(root / layout.INFO_PATH, root)
        if not isinstance(info, dict) or "features" not in info or "fps" not in info:
            raise DatasetError(
                f"{root / layout.INFO_PATH} lacks 'features' or 'fps': {repair_hint(root)}"
            )
        version = str(info.get("codebase_version", ""))
        if version == "v2.1" or version == "v2.0":
            return cls._load_v21(root, info)
        if version != layout.CODEBASE_VERSION:
            raise DatasetError(
                f"{root / layout.INFO_PATH}: codebase_version {version!r} is not supported "
                "(bricobot reads v3.0 and v2.1)"
            )
        rows = load_episode_rows(root)
        episodes, tasks, leftovers = committed_episodes(info, load_tasks(root), rows)
        stats_path = root / layout.STATS_PATH
        stats = stats_from_json(read_json(stats_path, root)) if stats_path.exists() else {}
        stats = committed_stats(stats, episodes, rows, leftovers)
        meta = cls(root, info, tasks, episodes, stats)
        meta.leftovers = leftovers
        if warn and (
            int(info.get("total_episodes", -1)) != len(episodes)
            or int(info.get("total_frames", -1)) != meta.total_frames
        ):
            warnings.warn(
                f"{root / layout.INFO_PATH} counts {info.get('total_episodes')} episodes / "
                f"{info.get('total_frames')} frames but the episodes metadata holds "
                f"{len(episodes)} / {meta.total_frames} (an interrupted save?): using the episodes "
                f"metadata; {repair_hint(root)} to update info.json",
                stacklevel=2,
            )
        return meta

    @classmethod
    def _load_v21(cls, root: Path, info: dict[str, Any]) -> DatasetMeta:
        tasks_rows = read_jsonl(root / "meta/tasks.jsonl", root)
        tasks = [r["task"] for r in sorted(tasks_rows, key=lambda r: int(r["task_index"]))]
        rows = sorted(
            read_jsonl(root / "meta/episodes.jsonl", root), key=lambda r: int(r["episode_index"])
        )
        check_contiguous(
            [int(r["episode_index"]) for r in rows], root / "meta/episodes.jsonl", root
        )
        ep_stats: dict[int, dict[str, Any]] = {}
        if (root / "meta/episodes_stats.jsonl").exists():
            for r in read_jsonl(root / "meta/episodes_stats.jsonl", root):
                ep_stats[int(r["episode_index"])] = r["stats"]
        episodes = []
        start = 0
        for r in rows:
            length = int(r["length"])
            ep: dict[str, Any] = {
                "episode_index": int(r["episode_index"]),
                "tasks": list(r["tasks"]),
                "length": length,
                "dataset_from_index": start,
                "dataset_to_index": start + length,
            }
            for key, st in ep_stats.get(ep["episode_index"], {}).items():
                for name, value in st.items():
                    ep[f"stats/{key}/{name}"] = value
            episodes.append(ep)
            start += length
        stats_path = root / layout.STATS_PATH
        if stats_path.exists():
            stats = stats_from_json(read_json(stats_path, root))
        else:
            stats = aggregate_stats([unflatten_stats(ep) for ep in episodes]) if ep_stats else {}
        return cls(root, info, tasks, episodes, stats)


def column_array(column: pa.ChunkedArray, dtype: Any = np.float64) -> np.ndarray:
    """A parquet column of scalars or fixed-size lists → (N, d) array of ``dtype``."""
    arr = column.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type) or pa.types.is_list(arr.type):
        values = arr.flatten().to_numpy(zero_copy_only=False)
        return values.reshape(len(arr), -1).astype(dtype, copy=False)
    return arr.to_numpy(zero_copy_only=False).reshape(-1, 1).astype(dtype, copy=False)


def read_jsonl(path: Path, root: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the v2.1 dataset at {root} is incomplete")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path} line {n} is not valid JSON: {exc}") from exc
    return rows


def load_tasks(root: Path) -> list[str]:
    """Task strings ordered by ``task_index``."""
    path = root / layout.TASKS_PATH
    if not path.exists():
        return []
    table = read_parquet(path, root)
    names = [n for n in table.column_names if n != "task_index"]
    column = names[0] if names else None
    if column is None:
        raise DatasetError(f"{path} has no task column: {repair_hint(root)}")
    pairs = sorted(
        zip(table.column("task_index").to_pylist(), table.column(column).to_pylist(), strict=True)
    )
    return [str(t) for _, t in pairs]


def episode_files(root: Path) -> list[Path]:
    return sorted((root / layout.EPISODES_DIR).glob("*/*.parquet"))


def load_episode_rows(root: Path) -> list[dict[str, Any]]:
    """All episodes-metadata rows, ordered by episode index, checked contiguous from 0."""
    rows: list[dict[str, Any]] = []
    where: dict[int, Path] = {}
    for path in episode_files(root):
        for row in read_parquet(path, root).to_pylist():
            idx = int(row["episode_index"])
            if idx in where:
                raise DatasetError(
                    f"episode {idx} appears in both {where[idx]} and {path}: {repair_hint(root)}"
                )
            where[idx] = path
            rows.append(row)
    rows.sort(key=lambda r: int(r["episode_index"]))
    check_contiguous([int(r["episode_index"]) for r in rows], root / layout.EPISODES_DIR, root)
    return rows


def check_contiguous(indices: Sequence[int], where: Path, root: Path) -> None:
    expected = list(range(len(indices)))
    if list(indices) != expected:
        missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
        raise DatasetError(
            f"episode indices in {where} are not contiguous from 0 (missing {missing[:10]}): "
            f"readers look episodes up by position, so this would shift data; {repair_hint(root)} "
            "to renumber the episodes"
        )


# -- the commit record (v3.0) --------------------------------------------------------------------


def committed_episodes(
    info: Mapping[str, Any], tasks: list[str], rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The episodes and tasks that info.json commits, and notes on what an interrupted save left.

    A save writes its episode's row and any new task first, then stats.json, then info.json with
    the new totals: that rename commits the episode. Rows after ``total_episodes`` (when the rows
    before it hold exactly ``total_frames``) and tasks after ``total_tasks`` (when no committed
    row names them) belong to a save that never finished, so readers ignore them. Any other
    disagreement is left for ``validate`` to report.
    """
    n, frames, n_tasks = (
        _count(info, k) for k in ("total_episodes", "total_frames", "total_tasks")
    )
    notes: list[str] = []
    if 0 <= n < len(rows) and sum(int(r["length"]) for r in rows[:n]) == frames:
        notes.append(
            f"{len(rows) - n} episode row(s) after info.json's total_episodes={n} belong to a "
            "save that was interrupted before its commit: ignored (the next save or `repair` "
            "removes them)"
        )
        rows = rows[:n]
    if 0 <= n_tasks < len(tasks):
        named = {t for r in rows for t in (r.get("tasks") or [])}
        if named <= set(tasks[:n_tasks]):
            notes.append(
                f"{len(tasks) - n_tasks} task(s) after info.json's total_tasks={n_tasks} belong to "
                "an interrupted save: ignored"
            )
            tasks = tasks[:n_tasks]
    return rows, tasks, notes


def _count(info: Mapping[str, Any], key: str) -> int:
    """An info.json total, or -1 when it is missing or not a number."""
    value = info.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def committed_stats(
    stats: dict[str, Stats],
    episodes: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    notes: list[str],
) -> dict[str, Stats]:
    """stats.json, unless an interrupted save already wrote the stats of its uncommitted episode
    (every ``count`` equals the frames of all ``rows``, not of the committed ``episodes``): then
    the committed episodes' own statistics, aggregated as a completed save would have."""
    if len(rows) == len(episodes) or not stats:
        return stats
    all_frames = sum(int(r["length"]) for r in rows)
    counts = {int(np.asarray(st.get("count", -1)).reshape(-1)[0]) for st in stats.values()}
    if counts != {all_frames}:
        return stats
    notes.append("stats.json includes the uncommitted episode: using the committed episodes' stats")
    return aggregate_stats([unflatten_stats(ep) for ep in episodes]) if episodes else {}


# -- committing (v3.0) ------------------------------------------------------------------------------


def write_tasks(root: Path, tasks: Sequence[str]) -> None:
    table = pa.table(
        {
            "task_index": pa.array(range(len(tasks)), pa.int64()),
            "task": pa.array(tasks, pa.string()),
        }
    )
    # pandas-style index metadata so LeRobot's pd.read_parquet sees the task string as the index.
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "pandas_version": "2.2.0",
    }
    table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    atomic_write_with(root / layout.TASKS_PATH, lambda tmp: pq.write_table(table, tmp))


def write_episode_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    table = pa.Table.from_pylist([dict(r) for r in rows])
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp))


def write_info_and_stats(
    root: Path, info: Mapping[str, Any], tasks: Sequence[str], episodes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Recompute totals and aggregated stats from ``episodes``; write stats.json, then info.json.

    Renaming info.json into place is what commits ``episodes`` (see :func:`committed_episodes`):
    callers write the episodes rows and tasks first.
    """
    new = dict(info)
    new["total_episodes"] = len(episodes)
    new["total_frames"] = int(sum(int(ep["length"]) for ep in episodes))
    new["total_tasks"] = len(tasks)
    new["splits"] = {"train": f"0:{len(episodes)}"} if episodes else {}
    per_episode = [unflatten_stats(ep) for ep in episodes]
    stats = aggregate_stats(per_episode) if per_episode else {}
    atomic_write_json(root / layout.STATS_PATH, stats_to_json(stats))
    atomic_write_json(root / layout.INFO_PATH, new)
    return new


def stats_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
