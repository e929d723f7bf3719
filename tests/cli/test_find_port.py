"""``bricobot find-port``: the port that disappears when the arm is unplugged."""

from __future__ import annotations

import pytest

from bricobot.cli.find_port import FindPortCommandConfig, run
from bricobot.motors.ports import PortInfo, removed_port


def test_removed_port_is_found() -> None:
    before = [PortInfo("/dev/ttyACM0", "/dev/serial/by-id/usb-arm"), PortInfo("/dev/ttyACM1")]
    assert removed_port(before, before[1:]).by_id == "/dev/serial/by-id/usb-arm"


def test_nothing_unplugged_says_what_to_do() -> None:
    ports = [PortInfo("/dev/ttyACM0")]
    with pytest.raises(ValueError, match=r"unplug the arm's USB cable"):
        removed_port(ports, ports)


def test_listing_without_ports_explains(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(FindPortCommandConfig(interactive=False))
    out = capsys.readouterr().out
    assert code == 0 or "plug the arm's controller board in" in out
