"""Dataset edits that never touch their source: delete episodes, split, merge, relabel a task.

Every edit checks its arguments against the source before writing anything (a wrong episode index
is rejected with the valid range), writes a NEW dataset into ``<out>.partial``, validates it, and
only then renames it to ``out``. The source folder is only read.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bricobot.datasets import layout, schema
from bricobot.datasets.metadata import (
    DatasetError,
    DatasetMeta,
    write_episode_rows,
    write_info_and_stats,
    write_tasks,
)
from bricobot.datasets.rewrite import Source, copy_episodes
from bricobot.datasets.validate import validate
from bricobot.datasets.writer import EPISODES_FILE

TaskMap = Callable[[DatasetMeta, int, str], str]


def delete_episodes(src: str | Path, out: str | Path, episodes: Sequence[int]) -> Path:
    """Copy ``src`` without ``episodes`` into ``out``."""
    meta = DatasetMeta.load(src)
    drop = set(_check_indices(meta, episodes))
    keep = [i for i in range(meta.total_episodes) if i not in drop]
    if not keep:
        raise ValueError(f"deleting {sorted(drop)} would leave {meta.root} with no episodes")
    return _write(Path(out), meta, [(meta, i) for i in keep])


def split(src: str | Path, outs: Mapping[str, Sequence[int]]) -> list[Path]:
    """Write one dataset per ``{out_folder: [episode indices]}`` (e.g. train / validation)."""
    meta = DatasetMeta.load(src)
    plans = {Path(o): _check_indices(meta, eps) for o, eps in outs.items()}
    for out, eps in plans.items():
        if not eps:
            raise ValueError(f"split output {out} has no episodes")
        _check_out(out)
    return [_write(out, meta, [(meta, i) for i in eps]) for out, eps in plans.items()]


def merge(srcs: Sequence[str | Path], out: str | Path) -> Path:
    """Concatenate datasets recorded with the same fps, features and robot into ``out``."""
    metas = [DatasetMeta.load(s) for s in srcs]
    if len(metas) < 2:
        raise ValueError("merge needs at least two datasets")
    first = metas[0]
    for m in metas[1:]:
        problems = schema.diff_features(first.features, m.features)
        if m.fps != first.fps:
            problems.append(f"fps {first.fps} vs {m.fps}")
        if m.robot_type != first.robot_type:
            problems.append(f"robot_type {first.robot_type!r} vs {m.robot_type!r}")
        if problems:
            raise DatasetError(
                f"cannot merge {first.root} and {m.root}:\n  - " + "\n  - ".join(problems)
            )
    return _write(Path(out), first, [(m, i) for m in metas for i in range(m.total_episodes)])


def relabel_task(
    src: str | Path, out: str | Path, old: str, new: str, episodes: Sequence[int] | None = None
) -> Path:
    """Copy ``src`` with task ``old`` renamed ``new`` (in ``episodes`` only, if given)."""
    meta = DatasetMeta.load(src)
    if old not in meta.tasks:
        raise ValueError(f"task {old!r} is not in {meta.root}; its tasks are {meta.tasks}")
    only = set(_check_indices(meta, episodes)) if episodes is not None else None

    def task_map(m: DatasetMeta, ep: int, task: str) -> str:
        return new if task == old and (only is None or ep in only) else task

    return _write(Path(out), meta, [(meta, i) for i in range(meta.total_episodes)], task_map)


def _check_indices(meta: DatasetMeta, episodes: Sequence[int]) -> list[int]:
    bad = [e for e in episodes if not isinstance(e, int) or not 0 <= e < meta.total_episodes]
    if bad:
        raise ValueError(
            f"episode indices {bad} do not exist in {meta.root} (valid: 0…{meta.total_episodes - 1}); "
            "nothing was written"
        )
    return sorted(set(episodes))


def _check_out(out: Path) -> None:
    if out.exists():
        raise DatasetError(
            f"{out} already exists: edits write a new dataset; choose another folder"
        )


def _write(
    out: Path, meta: DatasetMeta, sources: list[Source], task_map: TaskMap | None = None
) -> Path:
    _check_out(out)
    if any(out.resolve() == m.root.resolve() for m, _ in sources):
        raise DatasetError(f"{out} is a source dataset; edits never modify their source")
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    info = layout.new_info(
        meta.fps, meta.robot_type, meta.features, int(meta.info.get("chunks_size", 1000))
    )
    tasks: list[str] = []
    rows = copy_episodes([[s] for s in sources], work, info, tasks, 0, task_map)
    write_tasks(work, tasks)
    write_episode_rows(work / EPISODES_FILE, rows)
    write_info_and_stats(work, info, tasks, rows)
    report = validate(work)
    if not report.ok:
        raise DatasetError(
            f"the edited dataset does not validate; left in {work} for inspection:\n{report.summary()}"
        )
    work.rename(out)
    return out
