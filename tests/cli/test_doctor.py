"""``bricobot doctor``: each check reports a verdict and, when failing, the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bricobot.cli import doctor
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


def test_video_check_finds_an_encoder() -> None:
    assert check_video()[1]  # PyAV ships encoders


def test_gpu_check_names_the_device_torch_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake RTX 4090")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: (8, 9))
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    assert check_gpu() == ("gpu", True, "CUDA 12.8: Fake RTX 4090 (compute capability 8.9)")


def test_no_gpu_is_fine_training_runs_on_cpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _, ok, text = check_gpu(nvidia_device=str(tmp_path / "nvidia0"))
    assert ok and "no CUDA GPU" in text and "CPU" in text


def test_a_gpu_with_a_cpu_only_torch_fails_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    device = tmp_path / "nvidia0"
    device.write_text("")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    _, ok, text = check_gpu(nvidia_device=str(device))
    assert not ok and str(device) in text and "CPU-only" in text and "CUDA build of torch" in text


def test_a_gpu_torch_cannot_reach_fails_naming_the_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    device = tmp_path / "nvidia0"
    device.write_text("")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    _, ok, text = check_gpu(nvidia_device=str(device))
    assert not ok and "nvidia-smi" in text and "CUDA 12.8" in text


def test_doctor_exits_1_when_a_check_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "check_serial", lambda port: [("serial", True, "ok")])
    monkeypatch.setattr(doctor, "check_rendering", lambda: ("rendering", True, "ok"))
    monkeypatch.setattr(doctor, "check_video", lambda: ("video", True, "ok"))
    monkeypatch.setattr(doctor, "check_gpu", lambda: ("gpu", False, "a GPU torch cannot use"))
    assert doctor.run(doctor.DoctorCommandConfig()) == 1
    assert "[FAIL] gpu: a GPU torch cannot use" in capsys.readouterr().out
    monkeypatch.setattr(doctor, "check_gpu", lambda: ("gpu", True, "no CUDA GPU"))
    assert doctor.run(doctor.DoctorCommandConfig()) == 0
