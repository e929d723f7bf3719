"""``bricobot scan`` against an emulated bus with motors at two baud rates."""

from __future__ import annotations

import pytest

from bricobot.cli.scan import ScanCommandConfig, run
from bricobot.emulation import VirtualBus, VirtualServo

#: The emulator is a thread of this process and may wait for a CPU on a busy machine: give it more
#: than a servo needs (a broadcast ping listens twice as long).
REPLY_TIMEOUT_S = 0.1


def test_scan_lists_every_motor_at_every_baudrate(capsys: pytest.CaptureFixture[str]) -> None:
    servos = [VirtualServo("sts3215", 1, baudrate=115_200), VirtualServo("sts3215", 2)]
    servos[1].set_overload()
    with VirtualBus(servos) as vbus:
        cfg = ScanCommandConfig(port=vbus.port, bus="feetech", reply_timeout_s=REPLY_TIMEOUT_S)
        assert run(cfg) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows[0][:4] == ["1000000", "2", "sts3215", "(777)"] and "overload" in rows[0]
    assert rows[1][:5] == ["115200", "1", "sts3215", "(777)", "3.10"] and "7.4" in rows[1]


def test_scan_dynamixel_reports_firmware(capsys: pytest.CaptureFixture[str]) -> None:
    with VirtualBus([VirtualServo("xl430-w250", 4)]) as vbus:
        cfg = ScanCommandConfig(
            port=vbus.port, bus="dynamixel", baudrates=[57_600], reply_timeout_s=REPLY_TIMEOUT_S
        )
        assert run(cfg) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:5] == ["57600", "4", "xl430-w250", "(1060)", "46"]


def test_scan_needs_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ScanCommandConfig()) == 2
    assert "port=/dev/ttyACM0" in capsys.readouterr().err


def test_bad_bus_family_is_named() -> None:
    with pytest.raises(ValueError, match=r"bus must be 'feetech' or 'dynamixel'"):
        ScanCommandConfig(bus="herkulex")
    with pytest.raises(ValueError, match=r"reply_timeout_s must be > 0"):
        ScanCommandConfig(reply_timeout_s=0)
