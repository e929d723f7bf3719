"""``bricobot calibrate`` non-interactive on an emulated arm, and the leader/follower comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.cli.calibrate import CalibrateCommandConfig, run
from bricobot.motors.calibration import load_calibration


def test_virtual_calibration_from_answers_file(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "sweep_steps: 6\n"
        "joints:\n"
        "  shoulder_pan: {zero_raw: 3000, sweep_deg: [-100, 100], sign: -1}\n"
        "  gripper: {zero_raw: 500, sweep_deg: [0, 90]}\n"
    )
    out = tmp_path / "koch.json"
    cfg = CalibrateCommandConfig(
        robot="koch", virtual=True, answers_file=str(answers), output=str(out)
    )
    assert run(cfg) == 0
    cal = load_calibration(out)
    assert cal["shoulder_pan"].homing_offset == 2048 - 3000
    assert cal["shoulder_pan"].direction == -1
    assert cal["gripper"].homing_offset == 2048 - 500 and cal["gripper"].gripper


def test_compare_flags_shifted_arm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for name, zero in (("leader", 2000), ("follower", 2400)):
        answers = tmp_path / f"{name}.yaml"
        answers.write_text(
            f"sweep_steps: 4\njoints:\n  elbow_flex: {{zero_raw: {zero}, sweep_deg: [{-80 if name == 'leader' else -60}, {80 if name == 'leader' else 100}]}}\n"
        )
        path = tmp_path / f"{name}.json"
        assert (
            run(
                CalibrateCommandConfig(
                    robot="koch", virtual=True, answers_file=str(answers), output=str(path)
                )
            )
            == 0
        )
        paths.append(str(path))
    capsys.readouterr()
    assert run(CalibrateCommandConfig(compare=paths)) == 1
    assert "elbow_flex" in capsys.readouterr().out


def test_rejected_calibration_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "sweep_steps: 4\njoints:\n  wrist_flex: {zero_raw: 2000, sweep_deg: [-5, 5]}\n"
    )
    cfg = CalibrateCommandConfig(
        robot="koch", virtual=True, answers_file=str(answers), output=str(tmp_path / "x.json")
    )
    assert run(cfg) == 1
    assert "'wrist_flex' (id 4)" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
