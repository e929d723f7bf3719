"""JSON behind the dataset page: the episode index, one episode's signals, validation findings.

The index comes from the episodes metadata alone (no data file is opened, no video decoded), so it
loads fast for thousands of episodes. One episode's page reads only its own rows of the data file
(``observation.state``, ``action``, timing) and points at the camera videos, which the browser
fetches by byte range. ``validate`` (:mod:`bricobot.datasets.validate`) runs once in the background;
its findings are attached to episodes when it is done. Nothing here writes into the dataset.

A damaged dataset never stops the server: the JSON carries the problem, the file it concerns and
the command that fixes it.
"""

from __future__ import annotations

import datetime
import math
import re
import shlex
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bricobot.datasets import schema
from bricobot.datasets.metadata import DatasetError, DatasetMeta, column_array, read_parquet

Json = dict[str, Any]


def finite_list(values: np.ndarray, digits: int = 5) -> list[float | None]:
    """A 1-D array as a JSON list; NaN and infinities become null (JSON has no NaN)."""
    return [round(float(v), digits) if math.isfinite(v) else None for v in values.tolist()]


def fix_commands(root: Path) -> list[str]:
    """What a user runs about a damaged dataset: list every problem, then rebuild the metadata."""
    return [
        f"bricobot dataset validate root={shlex.quote(str(root))}",
        f"bricobot dataset repair root={shlex.quote(str(root))}",
    ]


def problem(message: str, file: Path | str | None, root: Path) -> Json:
    """A problem as the page shows it: what is wrong, which file, and the commands that fix it."""
    return {
        "message": message,
        "file": str(file) if file is not None else None,
        "fix": fix_commands(root),
    }


def delete_command(root: Path, episodes: Iterable[int]) -> str:
    """The ``bricobot dataset edit`` command that writes a copy of ``root`` without ``episodes``."""
    ids = ",".join(str(i) for i in sorted(set(episodes)))
    out = root.with_name(f"{root.name}_clean")
    words = ["bricobot", "dataset", "edit", f"root={root}", "op=delete", f"episodes=[{ids}]"]
    return shlex.join([*words, f"out={out}"])


def recorded_at(row: Mapping[str, Any]) -> str | None:
    """When the episode was recorded, if its metadata stores it (a string or Unix seconds)."""
    for key, value in row.items():
        if key.endswith("recorded_at") and value is not None:
            if isinstance(value, int | float):
                return datetime.datetime.fromtimestamp(float(value)).isoformat(timespec="seconds")
            return str(value)
    return None


def episode_entry(row: Mapping[str, Any], fps: int) -> Json:
    """One line of the episode list, from its metadata row only."""
    length = int(row["length"])
    max_err = row.get("timing/max_period_error_s")
    return {
        "index": int(row["episode_index"]),
        "tasks": [str(t) for t in row.get("tasks") or []],
        "length": length,
        "duration_s": round(length / fps, 3),
        "recorded_at": recorded_at(row),
        "drifted": row.get("timing/drifted"),
        "max_period_error_ms": None if max_err is None else round(1e3 * float(max_err), 2),
        "overruns": row.get("timing/overruns"),
    }


class Validation:
    """``validate`` run once in a background thread; findings grouped by episode."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._status = "idle"
        self._result: Json = {}

    def start(self, rerun: bool = False) -> None:
        with self._lock:
            if self._status == "running" or (self._status != "idle" and not rerun):
                return
            self._status = "running"
        threading.Thread(target=self._run, name="bricobot-view-validate", daemon=True).start()

    def state(self) -> Json:
        with self._lock:
            return {"status": self._status, **self._result}

    def _run(self) -> None:
        from bricobot.datasets.validate import validate

        try:
            report = validate(self.root)
            result = group_findings(report.errors, report.notes)
            result["summary"] = report.summary()
            status = "done"
        except Exception as exc:  # a crash of validate must not take the server down
            result, status = {"summary": f"validate failed: {exc}"}, "failed"
        with self._lock:
            self._status, self._result = status, result


EPISODE_PREFIX = re.compile(r"^episode (\d+)\b")


def group_findings(errors: list[str], notes: list[str]) -> Json:
    """Split validate's messages into per-episode findings and dataset-wide ones."""
    episodes: dict[str, Json] = {}
    general: Json = {"errors": [], "notes": []}
    for kind, messages in (("errors", errors), ("notes", notes)):
        for text in messages:
            match = EPISODE_PREFIX.match(text)
            if match is None:
                general[kind].append(text)
                continue
            found = episodes.setdefault(match.group(1), {"errors": [], "notes": []})
            found[kind].append(text)
    return {"episodes": episodes, "general": general}


class DatasetApi:
    """Answers the dataset page's requests for one dataset folder (read-only)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.validation = Validation(self.root)
        self._lock = threading.Lock()
        self._meta: DatasetMeta | None = None
        self._signature: tuple[Any, ...] = ()

    def meta(self) -> DatasetMeta:
        """The metadata, reloaded when a file under meta/ changed (a recording in progress)."""
        signature = tuple(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted((self.root / "meta").rglob("*"))
            if p.is_file()
        )
        with self._lock:
            if self._meta is None or signature != self._signature:
                self._meta = DatasetMeta.load(self.root, warn=False)
                self._signature = signature
            return self._meta

    def handle(self, route: list[str], query: Mapping[str, str]) -> tuple[int, Json]:
        """Dispatch ``/api/<route>``; returns (HTTP status, JSON body)."""
        if route == ["index"]:
            return 200, self.index()
        if len(route) == 2 and route[0] == "episode" and route[1].isdigit():
            return self.episode(int(route[1]))
        if route == ["validation"]:
            self.validation.start(rerun=query.get("rerun") == "1")
            return 200, self.validation.state()
        if route == ["delete-command"]:
            ids = [int(x) for x in query.get("episodes", "").split(",") if x.strip().isdigit()]
            return 200, {"episodes": sorted(set(ids)), "command": delete_command(self.root, ids)}
        return 404, {"error": f"no such API: /api/{'/'.join(route)}"}

    def index(self) -> Json:
        """Dataset facts and the episode list, from metadata only."""
        base: Json = {"kind": "dataset", "root": str(self.root), "name": self.root.name}
        try:
            meta = self.meta()
        except DatasetError as exc:
            return {
                **base,
                "episodes": [],
                "problems": [problem(str(exc), exc_file(exc), self.root)],
            }
        features = meta.features
        return {
            **base,
            "version": meta.version,
            "fps": meta.fps,
            "robot_type": meta.robot_type,
            "total_frames": meta.total_frames,
            "tasks": meta.tasks,
            "cameras": meta.camera_keys,
            "video_cameras": meta.video_keys,
            "state_names": feature_names(features, schema.STATE_KEY),
            "action_names": feature_names(features, schema.ACTION_KEY),
            "has_timing": schema.TIME_KEY in features,
            "episodes": [episode_entry(row, meta.fps) for row in meta.episodes],
            "problems": [],
        }

    def episode(self, idx: int) -> tuple[int, Json]:
        """One episode: per-joint state/action, loop timing, camera videos, and its problems."""
        try:
            meta = self.meta()
        except DatasetError as exc:
            return 200, {"index": idx, "problems": [problem(str(exc), exc_file(exc), self.root)]}
        if not 0 <= idx < meta.total_episodes:
            return 404, {"error": f"episode {idx} does not exist ({meta.total_episodes} episodes)"}
        row = meta.episodes[idx]
        out: Json = {**episode_entry(row, meta.fps), "fps": meta.fps, "problems": []}
        out["videos"] = [self._video(meta, idx, key, out["problems"]) for key in meta.video_keys]
        out["image_cameras"] = [k for k in meta.camera_keys if k not in meta.video_keys]
        try:
            table = self._rows(meta, idx)
        except DatasetError as exc:
            out["problems"].append(problem(str(exc), meta.data_path(idx), self.root))
            return 200, out
        out.update(signals(table, meta))
        return 200, out

    def _rows(self, meta: DatasetMeta, idx: int) -> pa.Table:
        """The episode's rows of its data file, only the columns the page plots."""
        path = meta.data_path(idx)
        wanted = [schema.STATE_KEY, schema.ACTION_KEY, "timestamp"]
        wanted += [k for k in meta.features if k.startswith("timing.")]
        columns = ["episode_index", *[k for k in wanted if k in meta.features]]
        table = read_parquet(path, self.root, columns=columns)
        return table.filter(pc.equal(table["episode_index"], idx))

    def _video(self, meta: DatasetMeta, idx: int, key: str, problems: list[Json]) -> Json:
        row = meta.episodes[idx]
        entry: Json = {"key": key, "camera": key.removeprefix(schema.IMAGE_PREFIX), "url": None}
        try:
            path = meta.video_path(idx, key)
            start = meta.video_from_timestamp(idx, key)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(
                problem(f"episode {idx} has no video metadata for {key} ({exc})", None, self.root)
            )
            return entry
        stop = float(row.get(f"videos/{key}/to_timestamp") or start + int(row["length"]) / meta.fps)
        entry.update({"from_s": start, "to_s": stop, "file": str(path)})
        if path.is_file():
            entry["url"] = "/files/" + quote(path.relative_to(self.root).as_posix())
        else:
            problems.append(problem(f"{path} is missing ({key}, episode {idx})", path, self.root))
        return entry


def exc_file(exc: Exception) -> str | None:
    """The first path a DatasetError's message names (its messages start with the file)."""
    match = re.search(r"(/[^\s:]+)", str(exc))
    return match.group(1) if match else None


def feature_names(features: Mapping[str, Any], key: str) -> list[str]:
    """A vector feature's element names (``"<joint>.pos"``), or ``key[i]`` when it has none."""
    if key not in features:
        return []
    spec = features[key]
    names = spec.get("names")
    if isinstance(names, Mapping):  # LeRobot sometimes nests them: {"motors": [...]}
        names = next(iter(names.values()), None)
    size = int(np.prod(spec["shape"]))
    if isinstance(names, list) and len(names) == size:
        return [str(n) for n in names]
    return [f"{key}[{i}]" for i in range(size)]


def signals(table: pa.Table, meta: DatasetMeta) -> Json:
    """The plotted signals of one episode's rows: time (s), per-joint values, timing (ms)."""
    n = table.num_rows
    if "timestamp" in table.column_names:
        t = column_array(table["timestamp"])[:, 0]
    else:
        t = np.arange(n) / meta.fps
    out: Json = {"t": finite_list(t), "state": [], "action": [], "timing": None}
    for key, name in ((schema.STATE_KEY, "state"), (schema.ACTION_KEY, "action")):
        if key in table.column_names:
            values = column_array(table[key])  # (N, d)
            out[name] = [finite_list(values[:, j], 4) for j in range(values.shape[1])]
    if schema.TIME_KEY in table.column_names:
        out["timing"] = loop_timing(table, meta.fps)
    return out


def loop_timing(table: pa.Table, fps: int) -> Json:
    """Period error of each loop tick against 1/fps, and how old each sensor reading was (ms)."""
    tick = column_array(table[schema.TIME_KEY])[:, 0]  # (N,) monotonic seconds
    error = np.full(len(tick), np.nan)
    error[1:] = (np.diff(tick) - 1.0 / fps) * 1e3
    ages: Json = {}
    for key in table.column_names:
        if key == schema.STATE_CAPTURE_KEY or key.startswith(schema.CAPTURE_PREFIX):
            name = key.removeprefix(schema.CAPTURE_PREFIX)
            ages["state" if key == schema.STATE_CAPTURE_KEY else name] = finite_list(
                (tick - column_array(table[key])[:, 0]) * 1e3, 3
            )
    return {"period_error_ms": finite_list(error, 3), "frame_age_ms": ages}
