"""Dataset validation: everything a reader and a training run rely on, checked before they run.

Errors (the dataset is wrong; ``ok`` is False):

- metadata that does not load; tasks that are not text; episode indices not contiguous; info.json
  counts that disagree with the committed episodes;
- features: ``action`` (and ``observation.state`` when the data has it) missing, or not a float
  vector with one name per value; a data column that no feature describes, a feature that no
  column holds, or a column whose type is not the feature's dtype and shape; a camera whose shape
  is not (H, W, 3) with a size;
- data rows that disagree with the episode lengths, frame indices, global indices, timestamps
  (``frame_index / fps``) or the tasks list;
- a camera whose video holds a different number of frames than the episode has rows, whose span
  differs from the data, or whose frame size differs from the features;
- statistics: missing, non-finite or misshapen; stats.json not the aggregate of the episodes'
  statistics; an episode's statistics not matching its data (numeric features recomputed exactly
  on a sample of episodes, cameras decoded for one sampled episode, within a tolerance).

Notes (worth a look, not wrong): idle stretches (action unchanged for over a second), jumps (a
joint moving more than ``jump_deg`` in one frame), episodes whose timing drifted, files no
metadata refers to, and what an interrupted save left (which readers ignore).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bricobot.datasets import layout, schema
from bricobot.datasets.metadata import DatasetError, DatasetMeta, column_array, read_parquet
from bricobot.datasets.stats import (
    ImageStatsAccumulator,
    Stats,
    aggregate_stats,
    non_finite_stats,
    numeric_stats,
    unflatten_stats,
)
from bricobot.datasets.video import VideoDecodeError, time_base, video_stream_info

#: Episodes whose numeric statistics are recomputed from the data (evenly spread, first and last).
STATS_SAMPLE_EPISODES = 8
#: Statistics compared; quantiles are left out (a dataset's are an approximate aggregate).
COMPARED_STATS = ("min", "max", "mean", "std")
#: Tolerance of recomputed numeric statistics (relative, absolute): the writer's are exact.
NUMERIC_RTOL, NUMERIC_ATOL = 1e-4, 1e-5
#: Tolerance of image statistics in [0, 1]: recomputed from decoded video, so compression noise.
IMAGE_ATOL = 0.05


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
    problem = _tasks_problem(root)
    if problem:
        report.errors.append(problem)
        report.fix = f"rewrite {root / layout.TASKS_PATH} with the task texts (from a backup)"
        return report
    try:
        meta = DatasetMeta.load(root, warn=False)
    except DatasetError as exc:
        report.errors.append(str(exc))
        return report
    report.episodes, report.frames = meta.total_episodes, meta.total_frames
    report.notes += meta.leftovers
    _check_info(meta, report)
    if not _fps_ok(meta.info.get("fps")):
        return report  # every time check divides by it
    _check_features(meta, report)
    _check_tasks(meta, report)
    sample = sample_episodes(meta.total_episodes)
    recomputed = _check_episodes(meta, report, idle_s, jump_deg, sample)
    _check_stats(meta, report, recomputed)
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


def _tasks_problem(root: Path) -> str:
    """Why ``meta/tasks.parquet`` does not hold text tasks (readers would misread them); ""."""
    path = root / layout.TASKS_PATH
    if not path.is_file():
        return ""
    try:
        table = pq.read_table(path)
        names = [n for n in table.column_names if n != "task_index"]
        if not names:
            return ""  # DatasetMeta.load names this one
        typ = table.schema.field(names[0]).type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            return f"{path}: tasks are stored as {typ}, not text: readers would misread them"
        table.column(names[0]).to_pylist()  # decodes every string
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        return f"{path}: the tasks cannot be decoded as UTF-8 text ({exc})"
    return ""


def sample_episodes(total: int, size: int = STATS_SAMPLE_EPISODES) -> list[int]:
    """Episode positions to recompute statistics for: all of few, else ``size`` evenly spread."""
    if total <= size:
        return list(range(total))
    return sorted({int(x) for x in np.rint(np.linspace(0, total - 1, size))})


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
    if not _fps_ok(info.get("fps")):
        report.errors.append(f"{path}: fps is {info.get('fps')!r}, not a positive whole number")


def _fps_ok(fps: Any) -> bool:
    return isinstance(fps, (int, float)) and fps > 0 and fps == int(fps)


# -- features --------------------------------------------------------------------------------------


def _check_features(meta: DatasetMeta, report: ValidationReport) -> None:
    """Required vector features and camera shapes, as info.json declares them."""
    path = meta.root / layout.INFO_PATH
    if schema.ACTION_KEY not in meta.features:
        report.errors.append(
            f"{path} has no {schema.ACTION_KEY!r} feature: training reads it (it would stop with "
            "KeyError: 'action')"
        )
    for key in (schema.ACTION_KEY, schema.STATE_KEY):
        if key in meta.features:
            problem = _vector_problem(meta.features[key])
            if problem:
                report.errors.append(f"{path}: feature {key!r} {problem}")
    for key in meta.camera_keys:
        spec = meta.features[key]
        shape = tuple(spec["shape"])
        if len(shape) != 3 or min(shape) <= 0 or shape[2] != 3:
            report.errors.append(
                f"{path}: camera {key!r} has shape {shape}, not (height, width, 3) with a size "
                "(recorded before the camera reported its frame size?)"
            )
        info = spec.get("info") or {}
        declared = (info.get("video.height"), info.get("video.width"))
        if spec["dtype"] == "video" and None not in declared and declared != shape[:2]:
            report.errors.append(
                f"{path}: camera {key!r} has shape {shape} but its video info says "
                f"{declared[1]}x{declared[0]}"
            )


def _vector_problem(spec: Mapping[str, Any]) -> str:
    """What makes ``spec`` unusable as a float vector with named values ("" when usable)."""
    shape, names = tuple(spec["shape"]), spec.get("names")
    if spec["dtype"] not in ("float32", "float64"):
        return f"has dtype {spec['dtype']}, not float32 or float64"
    if len(shape) != 1 or shape[0] < 1:
        return f"has shape {shape}, not (n,)"
    if isinstance(names, Mapping):  # LeRobot's {"motors": [...]} form
        names = next(iter(names.values()), None)
    if not isinstance(names, list) or len(names) != shape[0] or len(set(names)) != len(names):
        return (
            f"needs {shape[0]} distinct names (one per value, e.g. 'shoulder_pan.pos'), has {names}"
        )
    return ""


def _check_schema(meta: DatasetMeta, path: Path, sch: pa.Schema, report: ValidationReport) -> None:
    """Data columns against the features: each described, each present, each of its type."""
    stored = {k: s for k, s in meta.features.items() if s["dtype"] != "video"}
    for name in sch.names:
        if name not in stored:
            report.errors.append(
                f"{path} has a column {name!r} that info.json's features lack (readers and "
                "training would miss it, or fail on it)"
            )
    for key, spec in stored.items():
        if key not in sch.names:
            report.errors.append(f"feature {key!r} of info.json is not a column of {path}")
            continue
        problem = _type_problem(spec, sch.field(key).type)
        if problem:
            report.errors.append(f"{path}: column {key!r} {problem}")


def _type_problem(spec: Mapping[str, Any], typ: pa.DataType) -> str:
    try:
        want = layout.arrow_type(spec)
    except (KeyError, ValueError) as exc:
        return f"has a feature dtype/shape that cannot be stored: {exc}"
    if typ == want:
        return ""
    if pa.types.is_fixed_size_list(want) and (
        pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)
    ):
        same_size = not pa.types.is_fixed_size_list(typ) or typ.list_size == want.list_size
        if typ.value_type == want.value_type and same_size:
            return ""
    if pa.types.is_large_string(typ) and want == pa.string():
        return ""
    return f"is {typ} but info.json says {spec['dtype']} {tuple(spec['shape'])}"


def _check_tasks(meta: DatasetMeta, report: ValidationReport) -> None:
    path = meta.root / layout.TASKS_PATH
    duplicates = sorted({t for t in meta.tasks if meta.tasks.count(t) > 1})
    if duplicates:
        report.errors.append(f"{path} lists {duplicates[:3]} more than once")
    known = set(meta.tasks)
    for ep in meta.episodes:
        unknown = [t for t in ep.get("tasks") or [] if t not in known]
        if unknown:
            report.errors.append(
                f"episode {ep['episode_index']} names task(s) {unknown[:3]} that {path} lacks"
            )


# -- episodes --------------------------------------------------------------------------------------


def _check_episodes(
    meta: DatasetMeta, report: ValidationReport, idle_s: float, jump_deg: float, sample: list[int]
) -> dict[int, dict[str, Stats]]:
    """Check every episode's rows and videos; return recomputed numeric stats of ``sample``."""
    recomputed: dict[int, dict[str, Stats]] = {}
    tables: dict[Path, Any] = {}
    for ep_idx in range(meta.total_episodes):
        path = meta.data_path(ep_idx)
        if path not in tables:
            try:
                tables = {path: read_parquet(path, meta.root)}
            except DatasetError as exc:
                report.errors.append(f"episode {ep_idx}: {exc}")
                continue
            _check_schema(meta, path, tables[path].schema, report)
        sub = _episode_rows(meta, ep_idx, tables[path], report)
        if sub is not None:
            _check_episode_data(meta, ep_idx, sub, report, idle_s, jump_deg)
            if ep_idx in sample:
                recomputed[ep_idx] = episode_numeric_stats(meta, sub)
        for key in meta.video_keys:
            _check_episode_video(meta, ep_idx, key, report)
        _note_drift(meta, ep_idx, report)
    return recomputed


def _episode_rows(
    meta: DatasetMeta, ep_idx: int, table: pa.Table, report: ValidationReport
) -> pa.Table | None:
    """The episode's rows of its data file, or None (reported) when their number is wrong."""
    length = int(meta.episodes[ep_idx]["length"])
    if "episode_index" not in table.column_names:
        return None  # reported by the schema check
    rows = np.flatnonzero(table.column("episode_index").to_numpy() == ep_idx)
    if len(rows) != length:
        report.errors.append(
            f"episode {ep_idx}: {meta.data_path(ep_idx)} has {len(rows)} rows, metadata says "
            f"{length}"
        )
        return None
    return table.take(pa.array(rows))


def _check_episode_data(
    meta: DatasetMeta,
    ep_idx: int,
    sub: pa.Table,
    report: ValidationReport,
    idle_s: float,
    jump_deg: float,
) -> None:
    ep = meta.episodes[ep_idx]
    path = meta.data_path(ep_idx)
    length = int(ep["length"])
    names = sub.column_names
    if not {"frame_index", "index", "timestamp", "task_index"} <= set(names):
        return  # reported by the schema check
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
    worst = float(np.max(np.abs(ts - frame_index / meta.fps))) if length else 0.0
    if worst > 1e-3:
        report.errors.append(
            f"episode {ep_idx}: timestamps in {path} are not frame_index / fps (off the "
            f"1/{meta.fps} s grid by up to {worst:.4f} s)"
        )
    task_index = sub.column("task_index").to_numpy()
    if length and (task_index.min() < 0 or task_index.max() >= len(meta.tasks)):
        report.errors.append(
            f"episode {ep_idx}: task_index in {path} goes up to {int(task_index.max())} but "
            f"{meta.root / layout.TASKS_PATH} lists {len(meta.tasks)} task(s)"
        )
    if schema.ACTION_KEY in names and length > 1:
        _note_idle(meta, ep_idx, column_array(sub.column(schema.ACTION_KEY)), report, idle_s)
    if schema.STATE_KEY in names and length > 1:
        _note_jumps(ep_idx, column_array(sub.column(schema.STATE_KEY)), report, jump_deg)


def _note_idle(
    meta: DatasetMeta, ep_idx: int, action: np.ndarray, report: ValidationReport, idle_s: float
) -> None:
    """Note an action (N, d) unchanged for longer than ``idle_s``."""
    still = np.all(np.abs(np.diff(action, axis=0)) < 1e-6, axis=1)  # (N-1,)
    run, longest = 0, 0
    for s in still:
        run = run + 1 if s else 0
        longest = max(longest, run)
    if longest / meta.fps > idle_s:
        report.notes.append(
            f"episode {ep_idx}: action unchanged for {longest / meta.fps:.1f} s (idle frames)"
        )


def _note_jumps(ep_idx: int, state: np.ndarray, report: ValidationReport, jump_deg: float) -> None:
    """Note joints of a state (N, d) moving more than ``jump_deg`` in one frame."""
    step = np.abs(np.diff(state, axis=0)).max(axis=1)  # (N-1,)
    jumps = np.flatnonzero(step > jump_deg)
    if len(jumps):
        report.notes.append(
            f"episode {ep_idx}: {len(jumps)} jump(s) over {jump_deg} per frame in "
            "observation.state "
            f"(first at frame {int(jumps[0]) + 1}, {float(step[jumps[0]]):.1f})"
        )


def _note_drift(meta: DatasetMeta, ep_idx: int, report: ValidationReport) -> None:
    ep = meta.episodes[ep_idx]
    if ep.get("timing/drifted"):
        report.notes.append(
            f"episode {ep_idx}: timing drifted (worst period error "
            f"{ep.get('timing/max_period_error_s', 0) * 1e3:.1f} ms, "
            f"{ep.get('timing/overruns', 0)} overruns, oldest frame "
            f"{ep.get('timing/max_frame_age_s', 0) * 1e3:.1f} ms)"
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


# -- statistics ------------------------------------------------------------------------------------


def episode_numeric_stats(meta: DatasetMeta, sub: pa.Table) -> dict[str, Stats]:
    """Statistics of every numeric feature of one episode's rows, as the writer computes them."""
    return {
        key: numeric_stats(column_array(sub.column(key)))
        for key in schema.numeric_keys(meta.features)
        if key in sub.column_names and sub.num_rows
    }


def _check_stats(
    meta: DatasetMeta, report: ValidationReport, recomputed: Mapping[int, Mapping[str, Stats]]
) -> None:
    path = meta.root / layout.STATS_PATH
    if meta.total_episodes == 0:
        return
    v3 = meta.version == layout.CODEBASE_VERSION
    if v3 and not path.exists():
        report.errors.append(f"{path} is missing")
        return
    problems: list[str] = []
    wanted = [k for k, s in meta.features.items() if s["dtype"] != "string"]
    missing = [k for k in wanted if k not in meta.stats]
    if missing and v3:
        report.errors.append(f"{path} has no statistics for {missing}")
    elif missing:  # v2.1 keeps per-episode stats; older ones often lack some features
        report.notes.append(f"no statistics for {missing}")
    bad = non_finite_stats(meta.stats)
    if bad:
        report.errors.append(f"{path} has non-finite values in {bad[:10]}")
    problems += _shape_problems(meta)
    problems += _aggregate_problems(meta)
    problems += _episode_stats_problems(meta, recomputed)
    problems += _image_stats_problems(meta, sorted(recomputed))
    # v2.1 datasets cannot be repaired here; their statistics problems are worth a look only.
    (report.errors if v3 else report.notes).extend(problems)


def _shape_problems(meta: DatasetMeta) -> list[str]:
    """Statistics whose size does not fit their feature (normalization would fail or broadcast)."""
    out = []
    for key, stats in meta.stats.items():
        if key not in meta.features or meta.features[key]["dtype"] == "string":
            continue
        width = 3 if key in meta.camera_keys else int(np.prod(meta.features[key]["shape"]))
        for name in COMPARED_STATS:
            if name in stats and np.asarray(stats[name]).size != width:
                out.append(
                    f"stats.json {key}/{name} has {np.asarray(stats[name]).size} values, the "
                    f"feature has {width}"
                )
    return out


def _aggregate_problems(meta: DatasetMeta) -> list[str]:
    """stats.json against the aggregate of every episode's own statistics (when all have them)."""
    per_episode = [unflatten_stats(ep) for ep in meta.episodes]
    out = []
    for key, stats in meta.stats.items():
        if not per_episode or not all(key in ep for ep in per_episode):
            continue
        expected = aggregate_stats([{key: ep[key]} for ep in per_episode])[key]
        diff = stats_difference(stats, expected, NUMERIC_RTOL, NUMERIC_ATOL)
        if diff:
            out.append(f"stats.json {key}: {diff} from the aggregate of the episodes' statistics")
    return out


def _episode_stats_problems(
    meta: DatasetMeta, recomputed: Mapping[int, Mapping[str, Stats]]
) -> list[str]:
    """Sampled episodes' numeric statistics against their data (or stats.json without them)."""
    out = []
    for ep_idx, fresh in recomputed.items():
        stored = unflatten_stats(meta.episodes[ep_idx])
        for key, stats in fresh.items():
            if key in stored:
                diff = stats_difference(stored[key], stats, NUMERIC_RTOL, NUMERIC_ATOL)
                if diff:
                    out.append(f"episode {ep_idx} statistics of {key}: {diff} from its data")
    if recomputed and len(recomputed) == meta.total_episodes:
        whole = _aggregate_fresh(recomputed)
        for key, stats in whole.items():
            if key in meta.stats:
                diff = stats_difference(meta.stats[key], stats, NUMERIC_RTOL, NUMERIC_ATOL)
                if diff:
                    out.append(f"stats.json {key}: {diff} from the data")
    return out


def _aggregate_fresh(recomputed: Mapping[int, Mapping[str, Stats]]) -> dict[str, Stats]:
    return aggregate_stats([dict(recomputed[e]) for e in sorted(recomputed)])


def _image_stats_problems(meta: DatasetMeta, sample: list[int]) -> list[str]:
    """One sampled episode per camera decoded: its image statistics against the stored ones."""
    if not sample:
        return []
    ep_idx = min(sample, key=lambda e: int(meta.episodes[e]["length"]))
    out = []
    for key in meta.camera_keys:
        diff = image_stats_mismatch(meta, ep_idx, key)
        if diff:
            out.append(f"episode {ep_idx} statistics of {key}: {diff} from its frames")
    return out


def image_stats_mismatch(meta: DatasetMeta, ep_idx: int, key: str) -> str:
    """How episode ``ep_idx``'s stored statistics of camera ``key`` differ from its decoded frames
    (mean and std per channel within :data:`IMAGE_ATOL`); "" when they agree or none is stored.

    Without per-episode statistics, a single-episode dataset's stats.json is compared instead.
    """
    stored = unflatten_stats(meta.episodes[ep_idx]).get(key)
    if stored is None and meta.total_episodes == 1:
        stored = meta.stats.get(key)
    if stored is None:
        return ""
    from bricobot.datasets.frames import episode_frames

    acc = ImageStatsAccumulator()
    try:
        for image in episode_frames(meta, ep_idx, key):
            acc.add(image)
    except (DatasetError, VideoDecodeError, OSError) as exc:
        return f"frames cannot be decoded ({exc})"
    if acc.frames == 0:
        return ""
    fresh = acc.result()
    return stats_difference(stored, fresh, 0.0, IMAGE_ATOL, names=("mean", "std"))


def stats_difference(
    stored: Mapping[str, Any],
    fresh: Mapping[str, Any],
    rtol: float,
    atol: float,
    names: tuple[str, ...] = COMPARED_STATS,
) -> str:
    """The first statistic of ``names`` in which ``stored`` differs from ``fresh`` ("" if none)."""
    for name in names:
        if name not in stored or name not in fresh:
            continue
        a = np.asarray(stored[name], dtype=np.float64).reshape(-1)
        b = np.asarray(fresh[name], dtype=np.float64).reshape(-1)
        if a.shape != b.shape:
            continue  # reported by the shape check
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            worst = float(np.max(np.abs(a - b)))
            return f"{name} differs by up to {worst:.4g}"
    return ""


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
