"""Kill harness: SIGKILL `bricobot record` at random moments; every episode it reported saved stays.

Each round starts ``bricobot record`` on the MuJoCo twin (``robot=so101_sim``, the scripted
``so101_pick_cube_expert``, one small camera, short episodes, ``dataset.resume=true`` so that every
round appends to the same dataset) and SIGKILLs it at a seeded random moment: mostly while it
records and saves (a delay after its first "recording episode" line), sometimes while it starts or
resumes the dataset. After each kill, without any repair, it checks that:

- the dataset holds every episode the recorder logged as saved ("saved episode N"), and at most
  one more (an episode committed in the instant before its log line);
- every episode holds its full length (nothing partial is visible);
- ``validate`` passes as the dataset is.

Prints a JSON summary; exits 1 on any failure::

    .venv/bin/python scripts/kill_recorder.py --kills 100 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricobot.datasets.metadata import DatasetError, DatasetMeta
from bricobot.datasets.validate import validate

SAVED = re.compile(r"saved episode \d+ \((\d+) frames\)")
RECORDING = "recording episode"
FPS = 30


@dataclass
class Round:
    """What one recorder run printed, with the time each line arrived."""

    proc: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    recording: threading.Event = field(default_factory=threading.Event)
    #: Killed before recording started (while starting or resuming the dataset).
    at_startup: bool = False
    #: The kill left an unfinished save: temporary metadata or data files, or uncommitted rows,
    #: tasks or stats (a lower bound: a kill right after a save's video rename leaves neither).
    mid_save: bool = False

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))
            if RECORDING in line:
                self.recording.set()

    def saved(self) -> int:
        return sum(1 for _, line in self.lines if SAVED.search(line))

    def tail(self, n: int = 6) -> str:
        return " | ".join(line for _, line in self.lines[-n:])


def record_command(root: Path, episode_time_s: float, size: int, codec: str) -> list[str]:
    task = f"{{cameras: [front], image_height: {size}, image_width: {size}}}"
    return [
        sys.executable,
        "-m",
        "bricobot.cli.main",
        "record",
        "robot=so101_sim",
        f"+robot.task_config={task}",
        "teleop=so101_pick_cube_expert",
        f"dataset.root={root}",
        "dataset.resume=true",
        "dataset.num_episodes=100000",
        f"dataset.episode_time_s={episode_time_s}",
        "dataset.reset_time_s=0",
        f"dataset.fps={FPS}",
        f"dataset.codec={codec}",
        "dataset.task=pick the cube",
        "keyboard=false",
        "progress=false",
    ]


def run_round(cmd: list[str], cwd: Path, rng: random.Random, args: argparse.Namespace) -> Round:
    """Start the recorder, SIGKILL it at a random moment, return what it printed."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    rnd = Round(proc)
    reader = threading.Thread(target=rnd.read, daemon=True)
    reader.start()
    started = time.monotonic()
    if rng.random() < args.startup_fraction:  # while it starts or resumes the dataset
        time.sleep(rng.uniform(0.0, args.startup_s))
    else:
        rnd.recording.wait(timeout=args.startup_timeout_s)
        time.sleep(rng.uniform(0.0, args.window_s))
    rnd.at_startup = not rnd.recording.is_set()
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    learn_pace(rnd, started, args)
    return rnd


def learn_pace(rnd: Round, started: float, args: argparse.Namespace) -> None:
    """Adapt the kill moments to this machine: how long the recorder takes to start, and to
    record and save one episode (the window then spans about two episodes)."""
    starts = [t for t, line in rnd.lines if RECORDING in line]
    saves = [t for t, line in rnd.lines if SAVED.search(line)]
    if starts:
        args.startup_s = max(0.5, starts[0] - started)
    cycles = [b - a for a, b in itertools.pairwise(starts)]
    if not cycles and starts and saves and saves[0] > starts[0]:
        cycles = [saves[0] - starts[0]]
    if cycles:
        args.window_s = max(args.min_window_s, 2.5 * sorted(cycles)[len(cycles) // 2])


def committed(root: Path) -> list[int] | None:
    """Lengths of the episodes a reader sees; None when no dataset was created yet."""
    if not (root / "meta" / "info.json").is_file():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a disagreement between info.json and the rows fails
        return [int(ep["length"]) for ep in DatasetMeta.load(root).episodes]


def check_round(
    root: Path, rnd: Round, before: int, reported: int, expected_len: int
) -> tuple[int, list[str]]:
    """(episodes present, failures) after one killed round."""
    failures = []
    if rnd.proc.returncode != -signal.SIGKILL:
        failures.append(f"recorder exited by itself (rc {rnd.proc.returncode}): {rnd.tail()}")
    try:
        lengths = committed(root)
    except (DatasetError, Warning) as exc:
        return before, [*failures, f"dataset does not load: {exc}"]
    if lengths is None:
        if reported:
            failures.append(f"{reported} episode(s) reported saved but there is no dataset")
        return 0, failures
    present = len(lengths)
    new = present - before
    if new < rnd.saved() or new > rnd.saved() + 1:
        failures.append(
            f"the round reported {rnd.saved()} saved episode(s) but the dataset gained {new}"
        )
    short = [i for i, n in enumerate(lengths) if n != expected_len]
    if short:
        failures.append(f"episodes {short[:5]} do not hold {expected_len} frames")
    report = validate(root)
    if not report.ok:
        failures.append("validate: " + " / ".join(report.errors[:3]))
    rnd.mid_save = any(
        path.relative_to(root).parts[0] in ("meta", "data") for path in root.rglob("*.tmp")
    ) or any("interrupted" in n or "uncommitted" in n for n in report.notes)
    return present, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, default=None, help="dataset folder (default: temp)")
    parser.add_argument("--episode-time-s", type=float, default=0.3)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--codec", default="libsvtav1")
    parser.add_argument(
        "--min-window-s",
        type=float,
        default=1.5,
        help="kill within this after recording starts (widened to ~2 episodes on a slow machine)",
    )
    parser.add_argument("--startup-fraction", type=float, default=0.15)
    parser.add_argument("--startup-s", type=float, default=5.0, help="first guess of start time")
    parser.add_argument("--startup-timeout-s", type=float, default=120.0)
    args = parser.parse_args(argv)
    args.window_s = args.min_window_s
    with tempfile.TemporaryDirectory(prefix="kill_recorder_") as tmp:
        root = args.root or Path(tmp) / "dataset"
        summary = harness(root, Path(tmp), args)
    print(json.dumps(summary, indent=2))
    return 1 if summary["failures"] else 0


def harness(root: Path, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    cmd = record_command(root, args.episode_time_s, args.image_size, args.codec)
    expected_len = round(args.episode_time_s * FPS)
    reported = present = unreported = missing = validate_failures = at_startup = mid_save = 0
    failures: list[str] = []
    start = time.monotonic()
    for kill in range(args.kills):
        rnd = run_round(cmd, workdir, rng, args)
        reported += rnd.saved()
        before = present
        present, problems = check_round(root, rnd, before, reported, expected_len)
        unreported += max(0, present - before - rnd.saved())
        missing += max(0, rnd.saved() - (present - before))
        validate_failures += sum(p.startswith("validate") for p in problems)
        at_startup += rnd.at_startup
        mid_save += rnd.mid_save
        failures += [f"kill {kill}: {p}" for p in problems]
    return {
        "kills": args.kills,
        "seed": args.seed,
        "kills_while_starting": at_startup,
        "kills_inside_a_save_at_least": mid_save,
        "episodes_reported": reported,
        "episodes_present": present,
        "committed_before_reported": unreported,
        "missing_episodes": missing,
        "validate_failures": validate_failures,
        "failures": failures[:20],
        "elapsed_s": round(time.monotonic() - start, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
