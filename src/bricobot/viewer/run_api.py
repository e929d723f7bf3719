"""JSON behind the training-run page: curves from ``metrics.jsonl``, eval results, rollout videos.

The trainer appends one JSON record per line to ``<run>/metrics.jsonl``: ``{"event": "start"|"end"}``
records, training windows (``loss`` and each loss term such as ``l1_loss``, ``lr/<group>``,
``data_wait_share``, ``grad_norm``), validation (``val_loss``) and evaluation (``eval/success_rate``,
``eval/ci_low``, ``eval/ci_high``). The file is read incrementally (only the bytes appended since the
last request), so a page that refreshes during a long run stays cheap. Evaluation writes rollout
videos under ``<run>/eval/step_<step>/videos/``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

Json = dict[str, Any]

#: A run whose metrics file changed this recently and has no "end" record is shown as running.
RUNNING_WITHIN_S = 120.0
STEP_DIR = re.compile(r"step_(\d+)")


def clean(value: Any) -> Any:
    """A metrics value fit for JSON: numbers stay (NaN/inf become null), the rest as text."""
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    return value if isinstance(value, str) else str(value)


class MetricsLog:
    """``metrics.jsonl`` read incrementally: complete lines only, restarted if the file shrinks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Json] = []
        self._offset = 0
        self._lock = threading.Lock()

    def read(self) -> list[Json]:
        with self._lock:
            size = self.path.stat().st_size if self.path.is_file() else 0
            if size < self._offset:  # rewritten: start over
                self.records, self._offset = [], 0
            if size > self._offset:
                with self.path.open("rb") as f:
                    f.seek(self._offset)
                    chunk = f.read(size - self._offset)
                end = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
                self._offset += end
                self.records.extend(parse_lines(chunk[:end]))
            return list(self.records)


def parse_lines(chunk: bytes) -> list[Json]:
    """JSON records of complete lines; a damaged line is skipped rather than failing the page."""
    out = []
    for line in chunk.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def table(records: list[Json], exclude: tuple[str, ...] = ()) -> Json:
    """Records as columns for plotting: ``{"step": [...], key: [...]}`` with null where missing."""
    keys: list[str] = []
    for record in records:
        keys += [k for k in record if k not in keys and k != "step" and k not in exclude]
    return {
        "step": [clean(r.get("step")) for r in records],
        **{k: [clean(r.get(k)) for r in records] for k in keys},
    }


def split_records(records: list[Json]) -> dict[str, list[Json]]:
    """Sort records into events, training windows, validation and evaluation."""
    groups: dict[str, list[Json]] = {"events": [], "train": [], "val": [], "eval": []}
    for r in records:
        if "event" in r:
            groups["events"].append(r)
        elif "loss" in r:
            groups["train"].append(r)
        elif any(k.startswith("eval/") for k in r):
            groups["eval"].append({"step": r.get("step"), **strip_prefix(r, "eval/")})
        elif any(k.startswith("val_") for k in r):
            groups["val"].append(r)
    return groups


def strip_prefix(record: Mapping[str, Any], prefix: str) -> Json:
    return {k.removeprefix(prefix): v for k, v in record.items() if k.startswith(prefix)}


def run_status(events: list[Json], metrics: Path) -> str:
    """finished (an "end" record after the last start), running (written lately) or stopped."""
    last = events[-1].get("event") if events else None
    if last == "end":
        return "finished"
    if metrics.is_file() and time.time() - metrics.stat().st_mtime < RUNNING_WITHIN_S:
        return "running"
    return "stopped"


class RunApi:
    """Answers the run page's requests for one training output folder (read-only)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.metrics = MetricsLog(self.root / "metrics.jsonl")

    def handle(self, route: list[str], query: Mapping[str, str]) -> tuple[int, Json]:
        """Dispatch ``/api/<route>``; returns (HTTP status, JSON body)."""
        if route == ["run"]:
            return 200, self.run()
        return 404, {"error": f"no such API: /api/{'/'.join(route)}"}

    def run(self) -> Json:
        """Everything the run page shows; ``version`` changes whenever the metrics grow."""
        records = self.metrics.read()
        groups = split_records(records)
        starts = [e for e in groups["events"] if e.get("event") == "start"]
        ends = [e for e in groups["events"] if e.get("event") == "end"]
        problems = []
        if not self.metrics.path.is_file():
            problems.append(f"{self.metrics.path} does not exist yet: no step was logged")
        return {
            "kind": "run",
            "root": str(self.root),
            "name": self.root.name,
            "version": len(records),
            "status": run_status(groups["events"], self.metrics.path),
            "start": {k: clean(v) for k, v in starts[-1].items()} if starts else {},
            "end": {k: clean(v) for k, v in ends[-1].items()} if ends else {},
            "train": table(groups["train"], exclude=("epoch",)),
            "val": table(groups["val"]),
            "eval": table(groups["eval"]),
            "videos": self.videos(),
            "checkpoints": self.checkpoints(),
            "problems": problems,
        }

    def videos(self) -> list[Json]:
        """Rollout videos saved by evaluation, oldest step first."""
        out = []
        for path in sorted((self.root / "eval").rglob("*.mp4")):
            if path.name.startswith("."):  # a video still being written
                continue
            rel = path.relative_to(self.root).as_posix()
            match = STEP_DIR.search(rel)
            out.append(
                {
                    "url": "/files/" + quote(rel),
                    "name": rel,
                    "step": int(match.group(1)) if match else None,
                }
            )
        return out

    def checkpoints(self) -> list[str]:
        folder = self.root / "checkpoints"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "last")
