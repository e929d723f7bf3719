"""Calibrating virtual arms with the interactive `bricobot calibrate`, as a person at a real arm.

The virtual arm's scripted person (emulation/calibration_person.py) moves the arm when the
calibration asks; the test only presses Enter when the person says so, through the command's stdin.
Then the files it wrote, found at their default paths, drive teleoperate and record end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.validate import validate
from bricobot.emulation.mujoco_arm import VirtualArm, start_virtual_arm
from tests.e2e.conftest import VIRTUAL_REPLY_TIMEOUT_S

PERSON_TIMEOUT_S = 120.0


def calibrate_interactively(arm: VirtualArm, args: list[str], cwd: Path) -> str:
    """Run `bricobot calibrate <args> port=<arm>` and press Enter whenever the person says to."""
    command = [sys.executable, "-m", "bricobot.cli.main", "calibrate", *args, f"port={arm.port}"]
    command.append(f"reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}")  # the emulator may wait for a CPU
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BRICOBOT_DEBUG": "1"},
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for state in ("zero", "sweeping", "plus"):
            deadline = time.monotonic() + PERSON_TIMEOUT_S
            while not arm.person.wait_for(state, 0.5):  # the command may have failed meanwhile
                assert proc.poll() is None, (
                    f"calibrate exited before {state!r}: {proc.stdout.read()}"
                )
                assert time.monotonic() < deadline, f"person never reached {state!r}"
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.stdin.write("\n")  # the direction check: the person already holds +30°
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=PERSON_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    return out


def offsets(path: Path) -> dict[str, tuple[int, int, int]]:
    """What must match the arm: homing offset, zero-pose reading, direction."""
    motors = json.loads(path.read_text())["motors"]
    return {
        name: (m["homing_offset"], m["zero_ticks"], m["direction"]) for name, m in motors.items()
    }


def assert_within_a_tick(found: Path, configured: Path) -> None:
    mine, truth = offsets(found), offsets(configured)
    assert mine.keys() == truth.keys()
    for name in truth:
        for got, want in zip(mine[name], truth[name], strict=True):
            assert abs(got - want) <= 1, f"{name}: {mine[name]} vs configured {truth[name]}"


def test_virtual_follower_and_leader_calibrated_then_teleoperated_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        start_virtual_arm("so101", "follower", workdir=tmp_path / "f") as follower,
        start_virtual_arm("so101", "leader", workdir=tmp_path / "l") as leader,
    ):
        out = calibrate_interactively(follower, ["robot=so101"], tmp_path)
        assert "saved calibration/so101_follower.json" in out and "robot=so101 finds it" in out
        out = calibrate_interactively(leader, ["robot=so101", "role=leader"], tmp_path)
        assert "saved calibration/so101_leader.json" in out
        assert_within_a_tick(
            tmp_path / "calibration/so101_follower.json", follower.calibration_path
        )
        assert_within_a_tick(tmp_path / "calibration/so101_leader.json", leader.calibration_path)
        identity = json.loads((tmp_path / "calibration/so101_follower.json").read_text())[
            "identity"
        ]
        assert identity["motors"]["gripper"] == {"id": 6, "model": "sts3215"}
        assert len(identity["eeprom_fingerprint"]) == 16

        monkeypatch.chdir(tmp_path)  # the default calibration paths are relative to here
        timeouts = [
            f"robot.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
            f"teleop.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
        ]
        arms = [
            "robot=so101",
            f"robot.port={follower.port}",
            "teleop=so101_leader",
            f"teleop.port={leader.port}",
        ]
        assert main(["teleoperate", *arms, "duration_s=0.5", "display=false", *timeouts]) == 0
        capsys.readouterr()
        root = tmp_path / "pick"
        code = main(
            [
                "record",
                *arms,
                f"dataset.root={root}",
                "dataset.task=pick",
                "dataset.num_episodes=1",
                "dataset.episode_time_s=0.5",
                "dataset.reset_time_s=0",
                *timeouts,
            ]
        )
        assert code == 0, capsys.readouterr().err
        assert validate(root).ok and DatasetMeta.load(root).total_episodes == 1


@pytest.mark.parametrize("role", ["follower", "leader"])
def test_virtual_koch_calibrates_to_its_configured_offsets(tmp_path: Path, role: str) -> None:
    with start_virtual_arm("koch", role, workdir=tmp_path / "v") as arm:
        out = calibrate_interactively(arm, ["robot=koch", f"role={role}"], tmp_path)
        assert f"saved calibration/koch_{role}.json" in out
        assert_within_a_tick(tmp_path / f"calibration/koch_{role}.json", arm.calibration_path)
