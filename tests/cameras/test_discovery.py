"""find-cameras: a snapshot and the negotiated format per camera; unusable ones are explained."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bricobot.cameras.discovery import CameraCandidate, describe, probe_camera
from bricobot.cli import find_cameras


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30, (64, 48))
    for i in range(8):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    return path


def test_probe_saves_a_snapshot_and_reports_the_format(tmp_path: Path) -> None:
    video = write_video(tmp_path / "cam.mp4")
    probe = probe_camera(CameraCandidate(source=str(video)), tmp_path / "out", measure_s=0.2)
    assert probe.error == ""
    assert (probe.width, probe.height) == (64, 48)
    assert probe.fps == pytest.approx(30.0)
    assert probe.measured_fps > 0
    snapshot = cv2.imread(probe.snapshot)
    assert snapshot is not None and snapshot.shape == (48, 64, 3)
    assert "64×48" in describe(probe)


def test_cli_lists_each_source_and_fails_when_none_is_usable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = write_video(tmp_path / "cam.mp4")
    out = tmp_path / "snaps"
    assert find_cameras.main([f"sources=[{video}]", f"output_dir={out}", "measure_s=0.1"]) == 0
    assert "64×48" in capsys.readouterr().out
    assert list(out.glob("*.png"))
    missing = tmp_path / "missing.mp4"
    assert find_cameras.main([f"sources=[{missing}]", f"output_dir={out}", "measure_s=0.1"]) == 1
    assert "not usable" in capsys.readouterr().out
