"""``bricobot doctor``: each check reports a verdict and, when failing, the fix."""

from __future__ import annotations

import os
from pathlib import Path

from bricobot.cli.doctor import check_gpu, check_serial, check_video


def test_serial_permission_problem_names_exact_fix(tmp_path: Path) -> None:
    port = tmp_path / "ttyACM9"
    port.write_text("")
    os.chmod(port, 0)
    _, ok, text = check_serial(str(port))[0]
    if os.geteuid() == 0:  # root may open anything
        assert ok
    else:
        assert not ok and "sudo usermod -aG dialout $USER" in text


def test_missing_port_is_reported(tmp_path: Path) -> None:
    _, ok, text = check_serial(str(tmp_path / "nope"))[0]
    assert not ok and "find-port" in text


def test_video_and_gpu_checks_answer() -> None:
    assert check_video()[1]  # PyAV ships encoders
    _, ok, text = check_gpu()
    assert ok and text
