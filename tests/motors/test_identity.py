"""Identity before EEPROM writes: another arm's calibration file never silently rewrites servos.

Against the byte-level emulator (a virtual SO-101 / Koch); "another arm" is this arm's file with
the homing offsets another SO-101 would have (same ids and models, different offsets).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.emulation.mujoco_arm import VirtualArm, start_virtual_arm
from bricobot.motors.eeprom_log import read_journal
from bricobot.motors.identity import ArmIdentityError
from bricobot.robots.koch import KochFollower, KochFollowerConfig
from bricobot.robots.so101 import SO101Follower, SO101FollowerConfig
from bricobot.teleop.leader_arm import SO101Leader, SO101LeaderConfig

REPLY_TIMEOUT_S = 0.5


@pytest.fixture(autouse=True)
def own_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRICOBOT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "eeprom_writes.jsonl"


def other_arms_file(arm: VirtualArm, tmp_path: Path, shift_ticks: int = 150) -> Path:
    """This arm's calibration as another SO-101 of the same build would have it."""
    doc = json.loads(arm.calibration_path.read_text())
    for motor in doc["motors"].values():
        motor["homing_offset"] += shift_ticks
    path = tmp_path / "other_arm.json"
    path.write_text(json.dumps(doc))
    return path


def servo_offsets(arm: VirtualArm) -> dict[int, int]:
    with arm.bus.locked():
        return {s.id: s.peek("Homing_Offset") for s in arm.bus.servos}


def follower(arm: VirtualArm, calibration: Path, **fields: object) -> SO101Follower:
    config = SO101FollowerConfig(
        port=arm.port,
        calibration_path=str(calibration),
        reply_timeout_s=REPLY_TIMEOUT_S,
        torque_on_exit="release",
        **fields,  # type: ignore[arg-type]
    )
    return SO101Follower(config)


def test_another_arms_file_is_refused_and_the_servos_keep_their_offsets(tmp_path: Path) -> None:
    with start_virtual_arm("so101", "follower", workdir=tmp_path, person=False) as arm:
        before = servo_offsets(arm)
        robot = follower(arm, other_arms_file(arm, tmp_path))
        with pytest.raises(ArmIdentityError) as info:
            robot.connect()
        message = str(info.value)
        assert "other_arm.json does not match the servos" in message
        assert "shoulder_pan Homing_Offset servo -310 / file -160" in message
        assert "robot.calibration_path" in message and "robot.write_calibration=true" in message
        assert f"bricobot eeprom-undo port={arm.port}" in message
        assert servo_offsets(arm) == before
        assert not robot.is_connected


def test_the_arms_own_file_connects_without_writing_eeprom(
    tmp_path: Path, own_journal: Path
) -> None:
    with start_virtual_arm("so101", "follower", workdir=tmp_path, person=False) as arm:
        robot = follower(arm, arm.calibration_path)
        robot.connect()
        robot.disconnect()
    # The servos already held this calibration: none of it was written (the follower's own
    # settings, e.g. Return_Delay_Time on a fresh arm, are written and logged like any EEPROM write).
    written = {w.register for w in read_journal(own_journal)}
    assert written.isdisjoint(
        {"Homing_Offset", "Drive_Mode", "Min_Position_Limit", "Max_Position_Limit"}
    )
    assert "Return_Delay_Time" in written


def test_a_confirmed_write_is_logged_with_old_values_and_undone(
    tmp_path: Path, own_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with start_virtual_arm("so101", "follower", workdir=tmp_path, person=False) as arm:
        before = servo_offsets(arm)
        robot = follower(arm, other_arms_file(arm, tmp_path), write_calibration=True)
        robot.connect()
        robot.disconnect()
        assert servo_offsets(arm) == {i: v + 150 for i, v in before.items()}
        writes = [w for w in read_journal(own_journal) if w.register == "Homing_Offset"]
        assert [(w.id, w.old, w.new) for w in writes] == [
            (i, v, v + 150) for i, v in sorted(before.items())
        ]

        assert main(["eeprom-undo", f"port={arm.port}", "dry_run=true"]) == 0
        assert "dry run: nothing written" in capsys.readouterr().out
        assert servo_offsets(arm) != before
        assert main(["eeprom-undo", f"port={arm.port}"]) == 0
        out = capsys.readouterr().out
        assert "undone: " in out and "shoulder_pan (id 1) Homing_Offset: -310 → -160" in out
        assert servo_offsets(arm) == before
        # The arm's own file connects again without a write.
        robot = follower(arm, arm.calibration_path)
        robot.connect()
        robot.disconnect()


def test_undo_with_nothing_logged_names_the_journal(own_journal: Path, capsys) -> None:
    assert main(["eeprom-undo", "port=/dev/ttyACM7"]) == 1
    err = capsys.readouterr().err
    assert "no EEPROM write on /dev/ttyACM7 is logged in" in err and str(own_journal) in err


def test_the_refusal_names_both_usb_adapters(tmp_path: Path, monkeypatch) -> None:
    with start_virtual_arm("so101", "follower", workdir=tmp_path, person=False) as arm:
        path = other_arms_file(arm, tmp_path)
        doc = json.loads(path.read_text())
        doc["identity"] = {"usb_serial": "5A7B0123"}
        path.write_text(json.dumps(doc))
        monkeypatch.setattr("bricobot.motors.identity.port_usb_serial", lambda port: "58FA0999")
        with pytest.raises(
            ArmIdentityError, match=r"adapter 5A7B0123, this port is adapter 58FA0999"
        ):
            follower(arm, path).connect()


def test_a_leader_with_another_arms_file_is_refused_too(tmp_path: Path) -> None:
    with start_virtual_arm("so101", "leader", workdir=tmp_path, person=False) as arm:
        before = servo_offsets(arm)
        config = SO101LeaderConfig(
            port=arm.port,
            calibration_path=str(other_arms_file(arm, tmp_path)),
            reply_timeout_s=REPLY_TIMEOUT_S,
        )
        with pytest.raises(ArmIdentityError, match=r"teleop\.write_calibration=true"):
            SO101Leader(config).connect()
        assert servo_offsets(arm) == before


def test_dynamixel_arm_refuses_another_arms_file(tmp_path: Path) -> None:
    with start_virtual_arm("koch", "follower", workdir=tmp_path, person=False) as arm:
        before = servo_offsets(arm)
        config = KochFollowerConfig(
            port=arm.port,
            calibration_path=str(other_arms_file(arm, tmp_path)),
            reply_timeout_s=REPLY_TIMEOUT_S,
        )
        with pytest.raises(ArmIdentityError, match="Homing_Offset servo"):
            KochFollower(config).connect()
        assert servo_offsets(arm) == before
