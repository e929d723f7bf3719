"""``bricobot setup-motors`` (non-interactive) on an emulated bus: id and baud assigned, read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.cli.setup_motors import SetupMotorsCommandConfig, run
from bricobot.emulation import VirtualBus, VirtualServo

#: More than a servo needs: the emulator is a thread of this process, and may wait for a CPU.
REPLY_TIMEOUT_S = 0.1


def test_new_motor_gets_its_id_and_baudrate(capsys: pytest.CaptureFixture[str]) -> None:
    new = VirtualServo("xl330-m288", 1)  # factory: id 1 at 57600 baud
    with VirtualBus([new]) as vbus:
        cfg = SetupMotorsCommandConfig(
            robot="koch",
            port=vbus.port,
            motors=["elbow_flex"],
            interactive=False,
            reply_timeout_s=REPLY_TIMEOUT_S,
        )
        assert run(cfg) == 0
    assert (new.id, new.baudrate) == (3, 1_000_000)
    assert "'elbow_flex': id 3 at 1000000 baud" in capsys.readouterr().out


def test_two_motors_connected_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "motors.yaml"
    spec.write_text(
        "robot_type: arm\nbus: feetech\nbaudrate: 1000000\n"
        "motors:\n  - {name: gripper, id: 6, model: sts3215}\n"
    )
    servos = [VirtualServo("sts3215", 1), VirtualServo("sts3215", 2, baudrate=500_000)]
    with VirtualBus(servos) as vbus:
        cfg = SetupMotorsCommandConfig(
            robot=str(spec), port=vbus.port, interactive=False, reply_timeout_s=REPLY_TIMEOUT_S
        )
        assert run(cfg) == 1
    assert "connect only the gripper motor" in capsys.readouterr().err


def test_wrong_model_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with VirtualBus([VirtualServo("xl330-m077", 1)]) as vbus:
        cfg = SetupMotorsCommandConfig(
            robot="koch",
            port=vbus.port,
            motors=["gripper"],
            interactive=False,
            reply_timeout_s=REPLY_TIMEOUT_S,
        )
        assert run(cfg) == 1
    assert "is a xl330-m077" in capsys.readouterr().err


def test_robot_on_the_command_line_names_the_motors_yaml(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``robot=koch`` is a plain value (a motors.yaml name), not a Hydra preset choice."""
    new = VirtualServo("xl330-m288", 1)
    with VirtualBus([new]) as vbus:
        args = ["robot=koch", f"port={vbus.port}", "motors=[elbow_flex]", "interactive=false"]
        args.append(f"reply_timeout_s={REPLY_TIMEOUT_S}")
        assert main(["setup-motors", *args]) == 0
    assert (new.id, new.baudrate) == (3, 1_000_000)
    assert "'elbow_flex': id 3 at 1000000 baud" in capsys.readouterr().out


def test_readme_command_line_so101_sets_up_a_feetech_motor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``bricobot setup-motors robot=so101 port=...`` exactly as the README prints it."""
    new = VirtualServo("sts3215", 1)  # a factory-fresh STS3215 answers on id 1
    with VirtualBus([new]) as vbus:
        args = ["robot=so101", f"port={vbus.port}", "motors=[gripper]", "interactive=false"]
        args.append(f"reply_timeout_s={REPLY_TIMEOUT_S}")
        assert main(["setup-motors", *args]) == 0, capsys.readouterr().err
    assert (new.id, new.baudrate) == (6, 1_000_000)
