"""Merge per-episode files into large files, never leaving the dataset unreadable.

Steps: copy the episodes into new data/video files (new file numbers, stream copy for video), commit
the new episodes metadata with one atomic rename, rewrite info.json and stats.json, then delete the
old files. Killed before the commit, the old metadata still describes the old, untouched files (the
new ones are strays that ``repair`` removes); killed after it, the new metadata describes the new
files (the old ones are strays).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bricobot.datasets import layout
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    write_episode_rows,
    write_info_and_stats,
)
from bricobot.datasets.rewrite import Source, copy_episodes, delete_unreferenced, used_file_numbers
from bricobot.datasets.validate import referenced_files, validate
from bricobot.datasets.writer import EPISODES_FILE


@dataclass
class CompactReport:
    episodes: int
    files_before: int
    files_after: int
    removed: list[Path]


def compact(
    root: str | Path, data_file_size_mb: float = 100.0, video_file_size_mb: float = 200.0
) -> CompactReport:
    """Group consecutive episodes into files of about the given sizes (LeRobot's defaults)."""
    root = Path(root)
    report = validate(root)
    if not report.ok:
        raise DatasetError(
            f"{root} does not validate; repair it before compacting:\n{report.summary()}"
        )
    meta = DatasetMeta.load(root)
    if meta.version != layout.CODEBASE_VERSION:
        raise DatasetError(f"{root} is a {meta.version} dataset; compact works on v3.0")
    before = referenced_files(meta)
    groups: list[list[Source]] = []
    data_mb = video_mb = 0.0
    for ep_idx in range(meta.total_episodes):
        d_mb = (
            _mb(meta.data_path(ep_idx))
            * int(meta.episodes[ep_idx]["length"])
            / max(1, _rows_in_file(meta, ep_idx))
        )
        v_mb = max((_mb(meta.video_path(ep_idx, k)) for k in meta.video_keys), default=0.0)
        if not groups or data_mb + d_mb > data_file_size_mb or video_mb + v_mb > video_file_size_mb:
            groups.append([])
            data_mb = video_mb = 0.0
        groups[-1].append((meta, ep_idx))
        data_mb += d_mb
        video_mb += v_mb
    tasks = list(meta.tasks)
    rows = copy_episodes(groups, root, dict(meta.info), tasks, used_file_numbers(meta))
    if tasks != meta.tasks:
        raise DatasetError(f"{root}: task list changed while compacting (internal error)")
    # Commit: one rename replaces the whole episodes metadata.
    write_episode_rows(root / EPISODES_FILE, rows)
    for path in (root / layout.EPISODES_DIR).glob("*/*.parquet"):
        if path != root / EPISODES_FILE:
            path.unlink()
    write_info_and_stats(root, meta.info, meta.tasks, rows)
    new_meta = DatasetMeta.load(root)
    removed = delete_unreferenced(root, referenced_files(new_meta))
    return CompactReport(meta.total_episodes, len(before), len(referenced_files(new_meta)), removed)


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6 if path.exists() else 0.0


def _rows_in_file(meta: DatasetMeta, ep_idx: int) -> int:
    path = meta.data_path(ep_idx)
    return int(
        sum(int(ep["length"]) for i, ep in enumerate(meta.episodes) if meta.data_path(i) == path)
    )
