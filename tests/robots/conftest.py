"""Options for running the follower checks on a real arm (tests marked ``hardware``).

    pytest tests/robots/test_real_arm.py --robot-port /dev/serial/by-id/usb-... \
        --robot so101 --robot-calibration calibration/so101_follower.json

pytest reads these options only when this folder is named on the command line (or set
``BRICOBOT_ROBOT_PORT`` / ``BRICOBOT_ROBOT`` / ``BRICOBOT_ROBOT_CALIBRATION`` instead).
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bricobot hardware")
    group.addoption("--robot-port", default=None, help="serial port of a real follower arm")
    group.addoption("--robot", default=None, help="robot type of that arm: so101 or koch")
    group.addoption("--robot-calibration", default=None, help="its calibration file")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    try:
        value = config.getoption(name)
    except ValueError:  # the option was not registered (this folder was not on the command line)
        value = None
    return value or os.environ.get(env) or None


@pytest.fixture
def real_arm_options(request: pytest.FixtureRequest) -> dict[str, str]:
    port = _option(request.config, "--robot-port", "BRICOBOT_ROBOT_PORT")
    if not port:
        pytest.skip("no real arm: give --robot-port (or BRICOBOT_ROBOT_PORT)")
    return {
        "port": port,
        "robot": _option(request.config, "--robot", "BRICOBOT_ROBOT") or "so101",
        "calibration": _option(request.config, "--robot-calibration", "BRICOBOT_ROBOT_CALIBRATION")
        or "",
    }
