"""SIGKILL at many points while recording or compacting: every episode whose save returned survives.

A child process records 3 episodes (8 frames, one camera) and is killed during add_frame, at every
atomic rename of a save (video, tasks, data, episodes rows, stats, info = the commit), right
after a save, or during compact. The parent then validates the dataset as it is (no repair),
loads it, checks each saved episode frame by frame, then runs repair and validate.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.repair import repair
from bricobot.datasets.validate import validate
from tests.fakes.fake_dataset import image_value, state_value

REPO = Path(__file__).resolve().parents[2]
LENGTH = 8


def run_child(root: Path, point: str, codec: str = "libx264") -> tuple[int, set[int], str]:
    env = dict(os.environ, CODEC=codec, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.datasets.crash_child", str(root), point],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group, for the Ctrl-C test
    )
    saved = {int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("SAVED")}
    return proc.returncode, saved, proc.stdout + proc.stderr


def check_survivors(root: Path, saved: set[int], exact: bool = False) -> None:
    """Validate and load as is, check every saved episode's rows and frames; then repair.

    At most one episode more than reported may be there (committed in the instant before its
    report); ``exact``: none (the kill came before a commit, or after a report).
    """
    if not saved and not (root / "meta/info.json").exists():
        return  # killed inside create(): nothing was ever saved, no dataset to keep
    report = validate(root)
    assert report.ok, report.summary()  # without repair
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # info.json and the committed episodes agree
        ds = BricobotDataset(root)
    assert len(saved) <= ds.meta.total_episodes <= len(saved) + (0 if exact else 1)
    for e in saved:
        _check_episode(ds, e)
    repaired = repair(root)
    assert repaired.validation is not None and repaired.validation.ok, repaired.summary()
    assert validate(root).ok
    ds = BricobotDataset(root)
    assert len(saved) <= ds.meta.total_episodes <= len(saved) + (0 if exact else 1)
    for e in saved:
        _check_episode(ds, e)


def _check_episode(ds: BricobotDataset, e: int) -> None:
    ep = ds.meta.episodes[e]
    assert int(ep["length"]) == LENGTH
    start = int(ep["dataset_from_index"])
    for i in range(LENGTH):
        item = ds[start + i]
        assert int(item["episode_index"]) == e and int(item["frame_index"]) == i
        np.testing.assert_array_equal(item["observation.state"].numpy(), state_value(e, i))
        grey = item["observation.images.front"].mean().item() * 255
        assert abs(grey - image_value(e, i, 0)) < 3


# create() makes renames 1-4; episode 0's save makes 5 (video), 6 (tasks), 7 (data),
# 8 (episodes rows), 9 (stats), 10 (info: the commit); episode 1's save 11-16.
FAST_POINTS = ["replace:5", "replace:9", "replace:10", "replace:16", "frame:1:3", "after_save:1"]
SLOW_POINTS = [f"replace:{n}" for n in (1, 2, 3, 4, 6, 7, 8, 11, 12, 13, 14, 15)] + [
    "frame:0:0",
    "frame:2:7",
]


@pytest.mark.parametrize("point", FAST_POINTS)
def test_kill_while_recording(tmp_path: Path, point: str) -> None:
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, point)
    assert rc == -signal.SIGKILL, out
    check_survivors(root, saved, exact=True)


@pytest.mark.slow
@pytest.mark.parametrize("point", SLOW_POINTS)
def test_kill_while_recording_everywhere(tmp_path: Path, point: str) -> None:
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, point)
    assert rc == -signal.SIGKILL, out
    check_survivors(root, saved, exact=True)


@pytest.mark.parametrize("point", ["compact:2", "compact:3", "compact_unlink:2"])
def test_kill_during_compact(tmp_path: Path, point: str) -> None:
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, point)
    assert rc == -signal.SIGKILL, out
    assert saved == {0, 1, 2}
    check_survivors(root, saved)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["compact:1", "compact:4", "compact:5", "compact_unlink:1"])
def test_kill_during_compact_everywhere(tmp_path: Path, point: str) -> None:
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, point)
    assert rc == -signal.SIGKILL, out
    check_survivors(root, saved)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_kill_at_random_times_with_av1(tmp_path: Path, seed: int) -> None:
    """The parent kills an AV1 recording at a random moment (not at a chosen step)."""
    root = tmp_path / "ds"
    env = dict(os.environ, CODEC="libsvtav1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.datasets.crash_child", str(root), "none"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(random.Random(seed).uniform(1.0, 4.0))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    saved = {int(line.split()[1]) for line in out.splitlines() if line.startswith("SAVED")}
    if root.exists():
        check_survivors(root, saved)


def test_ctrl_c_to_the_process_group_still_saves(tmp_path: Path) -> None:
    """Ctrl-C hits the encoders too; they must keep running so the episode can be saved."""
    root = tmp_path / "ds"
    rc, saved, out = run_child(root, "sigint")
    assert rc == 0 and "INTERRUPTED" in out, out
    assert saved == {0, 1, 2}
    assert validate(root).ok
