"""Dataset validation: everything a training run silently relies on, checked before it runs.

Errors (the dataset is wrong; ``ok`` is False): metadata that does not load; episode indices not
contiguous; info.json counts that disagree with the episodes; data rows that disagree with the
episode lengths, frame indices, global indices or nominal timestamps; a camera whose video holds
a different number of frames than the episode has rows, or whose duration differs from the data;
missing or non-finite statistics. Notes (worth a look, not wrong): idle stretches (action unchanged
for over a second), jumps (a joint moving more than ``jump_deg`` in one frame), episodes whose
timing drifted, and files no metadata refers to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.datasets import layout, schema
from bricobot.datasets.metadata import DatasetError, DatasetMeta, read_parquet
from bricobot.datasets.stats import non_finite_stats
from bricobot.datasets.video import VideoDecodeError, time_base, video_stream_info


@dataclass
class ValidationReport:
    root: Path
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    episodes: int = 0
    frames: int = 0
    #: What to do about the errors; "" means `repair`, which rebuilds metadata from the files.
    fix: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        head = "OK" if self.ok else f"{len(self.errors)} ERROR(S)"
        lines = [f"{self.root}: {head} ({self.episodes} episodes, {self.frames} frames)"]
        lines += [f"  error: {e}" for e in self.errors]
        lines += [f"  note: {n}" for n in self.notes]
        if not self.ok:
            repair = f"`bricobot dataset repair root={self.root}` rebuilds metadata from the files"
            lines.append(f"  fix: {self.fix or repair}")
        return "\n".join(lines)


def validate(root: str | Path, idle_s: float = 1.0, jump_deg: float = 20.0) -> ValidationReport:
    """Check a dataset folder; never modifies it."""
    root = Path(root)
    report = ValidationReport(root)
    problem = _not_a_dataset(root)
    if problem:
        report.errors.append(problem)
        report.fix = NOT_A_DATASET_FIX
        return report
    try:
        meta = DatasetMeta.load(root, warn=False)
    except DatasetError as exc:
        report.errors.append(str(exc))
        return report
    report.episodes, report.frames = meta.total_episodes, meta.total_frames
    _check_info(meta, report)
    tables: dict[Path, Any] = {}
    for ep_idx in range(meta.total_episodes):
        path = meta.data_path(ep_idx)
        if path not in tables:
            try:
                tables = {path: read_parquet(path, root)}
            except DatasetError as exc:
                report.errors.append(f"episode {ep_idx}: {exc}")
                continue
        _check_episode_data(meta, ep_idx, tables[path], report, idle_s, jump_deg)
        for key in meta.video_keys:
            _check_episode_video(meta, ep_idx, key, report)
        if meta.episodes[ep_idx].get("timing/drifted"):
            ep = meta.episodes[ep_idx]
            report.notes.append(
                f"episode {ep_idx}: timing drifted (worst period error "
                f"{ep.get('timing/max_period_error_s', 0) * 1e3:.1f} ms, "
                f"{ep.get('timing/overruns', 0)} overruns, oldest frame "
                f"{ep.get('timing/max_frame_age_s', 0) * 1e3:.1f} ms)"
            )
    _check_stats(meta, report)
    if meta.version == layout.CODEBASE_VERSION:
        _note_unreferenced(meta, report)
    return report


NOT_A_DATASET_FIX = (
    f"give the folder that holds {layout.INFO_PATH} (the dataset.root= it was recorded with), or "
    "record one: `bricobot record ... dataset.root=<folder>` (`bricobot demo` records one in "
    "simulation, in outputs/demo/<time>/dataset)"
)


def _not_a_dataset(root: Path) -> str:
    """Why ``root`` is no dataset at all, with nothing `repair` could rebuild from; "" otherwise."""
    if not root.is_dir():
        return f"{root} does not exist"
    if (root / layout.INFO_PATH).is_file() or any((root / "data").rglob("*.parquet")):
        return ""
    return f"{root} is not a dataset: it has no {layout.INFO_PATH} and no data files"


def _check_info(meta: DatasetMeta, report: ValidationReport) -> None:
    info = meta.info
    path = meta.root / layout.INFO_PATH
    for name, actual in (
        ("total_episodes", meta.total_episodes),
        ("total_frames", meta.total_frames),
        ("total_tasks", len(meta.tasks)),
    ):
        if int(info.get(name, -1)) != actual:
            report.errors.append(
                f"{path}: {name} is {info.get(name)} but the dataset holds {actual}"
            )


def _check_episode_data(
    meta: DatasetMeta,
    ep_idx: int,
    table: Any,
    report: ValidationReport,
    idle_s: float,
    jump_deg: float,
) -> None:
    ep = meta.episodes[ep_idx]
    path = meta.data_path(ep_idx)
    length = int(ep["length"])
    eps = table.column("episode_index").to_numpy()
    rows = np.flatnonzero(eps == ep_idx)
    if len(rows) != length:
        report.errors.append(
            f"episode {ep_idx}: {path} has {len(rows)} rows, metadata says {length}"
        )
        return
    sub = table.take(rows)
    frame_index = sub.column("frame_index").to_numpy()
    if not np.array_equal(frame_index, np.arange(length)):
        report.errors.append(f"episode {ep_idx}: frame_index in {path} is not 0…{length - 1}")
    index = sub.column("index").to_numpy()
    start = int(ep.get("dataset_from_index", index[0] if length else 0))
    if not np.array_equal(index, np.arange(start, start + length)):
        report.errors.append(
            f"episode {ep_idx}: index in {path} is not {start}…{start + length - 1}"
        )
    ts = sub.column("timestamp").to_numpy().astype(np.float64)
    nominal = np.arange(length) / meta.fps
    worst = float(np.max(np.abs(ts - nominal))) if length else 0.0
    if worst > 1e-3:
        report.errors.append(
            f"episode {ep_idx}: timestamps in {path} are irregular (off the 1/{meta.fps} s grid by up "
            f"to {worst:.4f} s)"
        )
    names = sub.column_names
    period = 1.0 / meta.fps
    if schema.ACTION_KEY in names and length > 1:
        action = np.stack(sub.column(schema.ACTION_KEY).to_numpy(zero_copy_only=False)).astype(
            np.float64
        )
        still = np.all(np.abs(np.diff(action, axis=0)) < 1e-6, axis=1)  # (N-1,)
        run, longest = 0, 0
        for s in still:
            run = run + 1 if s else 0
            longest = max(longest, run)
        if longest * period > idle_s:
            report.notes.append(
                f"episode {ep_idx}: action unchanged for {longest * period:.1f} s (idle frames)"
            )
    if schema.STATE_KEY in names and length > 1:
        state = np.stack(sub.column(schema.STATE_KEY).to_numpy(zero_copy_only=False)).astype(
            np.float64
        )
        step = np.abs(np.diff(state, axis=0)).max(axis=1)  # (N-1,)
        jumps = np.flatnonzero(step > jump_deg)
        if len(jumps):
            report.notes.append(
                f"episode {ep_idx}: {len(jumps)} jump(s) over {jump_deg} per frame in observation.state "
                f"(first at frame {int(jumps[0]) + 1}, {float(step[jumps[0]]):.1f})"
            )


def _check_episode_video(
    meta: DatasetMeta, ep_idx: int, key: str, report: ValidationReport
) -> None:
    ep = meta.episodes[ep_idx]
    path = meta.video_path(ep_idx, key)
    length = int(ep["length"])
    try:
        info = video_stream_info(path)
    except VideoDecodeError as exc:
        report.errors.append(f"episode {ep_idx}, {key}: {exc}")
        return
    start = meta.video_from_timestamp(ep_idx, key)
    stop = float(ep.get(f"videos/{key}/to_timestamp", start + length / meta.fps))
    if abs((stop - start) - length / meta.fps) > 1e-3:
        report.errors.append(
            f"episode {ep_idx}, {key}: video span {stop - start:.4f} s differs from the data "
            f"({length} frames = {length / meta.fps:.4f} s)"
        )
    frames = _frames_between(path, start, stop)
    if frames != length:
        report.errors.append(
            f"episode {ep_idx}, {key}: {path} holds {frames} frames in [{start:.4f}, {stop:.4f}) s "
            f"but the episode has {length} rows (dropped or duplicated frames)"
        )
    if (info.width, info.height) != tuple(meta.features[key]["shape"][1::-1]):
        report.errors.append(
            f"episode {ep_idx}, {key}: {path} is {info.width}x{info.height}, features say "
            f"{meta.features[key]['shape']}"
        )


def _frames_between(path: Path, start: float, stop: float) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * time_base(stream))
            if start - 1e-4 <= t < stop - 1e-4:
                n += 1
        return n


def _check_stats(meta: DatasetMeta, report: ValidationReport) -> None:
    path = meta.root / layout.STATS_PATH
    if meta.total_episodes == 0:
        return
    v3 = meta.version == layout.CODEBASE_VERSION
    if v3 and not path.exists():
        report.errors.append(f"{path} is missing")
        return
    stats = meta.stats
    wanted = [k for k, s in meta.features.items() if s["dtype"] != "string"]
    missing = [k for k in wanted if k not in stats]
    if missing and v3:
        report.errors.append(f"{path} has no statistics for {missing}")
    elif missing:  # v2.1 keeps per-episode stats; older ones often lack some features
        report.notes.append(f"no statistics for {missing}")
    bad = non_finite_stats(stats)
    if bad:
        report.errors.append(f"{path} has non-finite values in {bad[:10]}")


def _note_unreferenced(meta: DatasetMeta, report: ValidationReport) -> None:
    used = referenced_files(meta)
    stray = [
        p
        for folder in ("data", "videos")
        for p in sorted((meta.root / folder).rglob("*"))
        if p.is_file() and p not in used
    ]
    if stray:
        report.notes.append(
            f"{len(stray)} file(s) no episode refers to (e.g. {stray[0]}); `repair` removes them"
        )


def referenced_files(meta: DatasetMeta) -> set[Path]:
    """Every data and video file that the episodes metadata refers to."""
    used = set()
    for ep_idx in range(meta.total_episodes):
        used.add(meta.data_path(ep_idx))
        for key in meta.video_keys:
            used.add(meta.video_path(ep_idx, key))
    return used
