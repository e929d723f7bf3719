"""A recorder killed mid-episode keeps every episode it had saved (SIGKILL), or stops cleanly (SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.record import run_record
from tests.e2e.conftest import (
    CAMERA_HW,
    ROBOT,
    Arm,
    camera_config,
    check_torque,
    leader_config,
    robot_config,
    timeout_args,
    torque_on,
)

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from bricobot.emulation.mujoco_arm import start_virtual_arm
    from bricobot.runtime.commands import DatasetConfig
    from bricobot.runtime.record import run_record
    from tests.e2e.conftest import ROBOT, Arm, camera_config, leader_config, robot_config

    root, images, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with start_virtual_arm(ROBOT, "follower", workdir=work) as f, \\
            start_virtual_arm(ROBOT, "leader", workdir=work) as l:
        follower = Arm(f.port, str(f.calibration_path), f)
        leader = Arm(l.port, str(l.calibration_path), l)
        run_record(
            robot_config(follower, cameras={"front": camera_config(images)}),
            leader_config(leader),
            DatasetConfig(root=root, fps=30, num_episodes=100, episode_time_s=0.5,
                          reset_time_s=0.0),
            keyboard=False,
        )
    """
)


def _saved_episodes(root: Path) -> int:
    try:
        return int(json.loads((root / "meta" / "info.json").read_text())["total_episodes"])
    except (OSError, ValueError, KeyError):
        return 0


def test_sigkill_mid_episode_keeps_every_saved_episode(
    image_folder: Path, follower: Arm, virtual_follower: object, leader: Arm, tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(image_folder), str(work)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _saved_episodes(root) < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the recorder saved fewer than 2 episodes in 60 s"
            time.sleep(0.05)
        time.sleep(0.25)  # half way through the next episode
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = DatasetMeta.load(root).total_episodes
    assert saved >= 2
    report = validate(root)
    assert report.ok, report.summary()

    # The dataset can be resumed where it stopped.
    result = run_record(
        robot_config(follower, cameras={"front": camera_config(image_folder)}),
        leader_config(leader),
        DatasetConfig(
            root=str(root),
            fps=30,
            num_episodes=1,
            episode_time_s=0.3,
            reset_time_s=0.0,
            resume=True,
        ),
        keyboard=False,
    )
    assert result.episodes_saved == 1
    assert DatasetMeta.load(root).total_episodes == saved + 1
    assert validate(root).ok


def test_sigterm_stops_the_record_command_with_torque_as_configured(
    image_folder: Path, follower: Arm, virtual_follower: object, leader: Arm, tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    h, w = CAMERA_HW
    cams = f"{{front: {{type: replay, path: '{image_folder}', width: {w}, height: {h}, fps: 30, max_age_periods: 30}}}}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bricobot.cli.main",
            "record",
            f"robot={ROBOT}",
            f"robot.port={follower.port}",
            f"robot.calibration_path={follower.calibration_path}",
            f"+robot.cameras={cams}",
            "robot.torque_on_exit=release",
            f"teleop={ROBOT}_leader",
            f"teleop.port={leader.port}",
            f"teleop.calibration_path={leader.calibration_path}",
            *timeout_args(follower, "robot"),
            *timeout_args(leader, "teleop"),
            f"dataset.root={root}",
            "dataset.num_episodes=100",
            # Long enough that the signal, sent 0.2 s into the second episode, lands in it even
            # when this test waits for a CPU on a busy machine.
            "dataset.episode_time_s=2",
            "dataset.reset_time_s=0",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _saved_episodes(root) < 1:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no episode saved in 60 s"
            time.sleep(0.05)
        time.sleep(0.2)  # the next episode starts once the first is saved
        assert torque_on_any(follower)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "SIGTERM received" in err
    assert "discarded the episode in progress" in err
    assert "discarded (not saved)" in out  # the summary says what the signal cost
    saved = DatasetMeta.load(root).total_episodes
    assert saved >= 1 and validate(root).ok
    check_torque(follower, on=False)


def torque_on_any(arm: Arm) -> bool:
    return any(torque_on(arm))


def test_kill_harness_finds_every_reported_episode_and_a_valid_dataset(tmp_path: Path) -> None:
    """The fast variant of scripts/kill_recorder.py: 5 seeded SIGKILLs of `bricobot record` on
    the sim twin; after each, no repair: every reported episode is there and validate passes."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "kill_recorder.py"), "--kills", "5", "--seed", "3"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = json.loads(proc.stdout)
    assert proc.returncode == 0, summary["failures"] or proc.stderr
    assert summary["kills"] == 5 and summary["failures"] == []
    assert summary["validate_failures"] == 0 and summary["missing_episodes"] == 0
    assert summary["episodes_present"] >= summary["episodes_reported"]
