"""``bricobot calibrate`` non-interactive on an emulated arm, and the leader/follower comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.cli.calibrate import CalibrateCommandConfig, run
from bricobot.cli.main import main
from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.motors.calibration import load_calibration
from bricobot.motors.spec import load_motors_spec


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


@pytest.mark.parametrize("robot", ["robot=so101", "+robot=so101"])
def test_readme_command_line_robot_so101_calibrates(robot: str, tmp_path: Path) -> None:
    """``robot=so101`` as printed in the README (and the ``+robot=`` form Hydra used to suggest)
    names the motors.yaml, runs the guided calibration and writes the file."""
    answers = tmp_path / "answers.yaml"
    answers.write_text("sweep_steps: 4\n")
    out = tmp_path / "so101.json"
    args = [robot, "virtual=true", f"answers_file={answers}", f"output={out}"]
    assert main(["calibrate", *args]) == 0
    assert set(load_calibration(out)) == {m.name for m in load_motors_spec("so101").motors}


def test_readme_command_line_reaches_the_arm_on_its_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``robot=so101 port=<pty>`` connects to the bus there (an arm nobody moves is refused)."""
    spec = load_motors_spec("so101")
    answers = tmp_path / "answers.yaml"
    answers.write_text("sweep_s: 0.2\n")
    servos = [VirtualServo(m.model, m.id, baudrate=spec.baudrate) for m in spec.motors]
    with VirtualBus(servos) as vbus:
        args = ["robot=so101", f"port={vbus.port}", f"answers_file={answers}"]
        code = main(["calibrate", *args, f"output={tmp_path / 'x.json'}"])
    out, err = capsys.readouterr()
    assert code == 1 and "zero pose" in out.lower()
    assert "'shoulder_pan' (id 1)" in err
