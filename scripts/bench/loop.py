"""Control-loop timing while recording: period error (median, p99) and per-stage breakdown.

Runs, in one process and one run, at each rate (30 Hz and 60 Hz by default):

- ``baseline``: the same loop with nothing to read, decide, send or write (the floor set by the OS
  scheduler and the precise sleep);
- ``recording_<codec>``: a 6-servo arm on virtual hardware plus two 640×480 replay cameras,
  driven by a moving command, every step written to a dataset with :class:`DatasetWriter` (video
  encoders in their own processes), as ``bricobot record`` does; once per video codec.

The arm is the follower driver (``--robot so101`` or ``koch``) on a virtual arm started as
``bricobot virtual-arm`` in its own process (``--arm virtual``, the default); ``--arm stub``
replaces it with an in-process arm that reads nothing, to isolate cameras and writer. Afterwards
the dataset is read back and the frames it holds are compared with the steps the loop ran: none
may be missing. A run that fails is reported with its error instead of numbers.

    .venv/bin/python scripts/bench/loop.py --seconds 20 --robot so101

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bricobot.cameras.base import Camera
from bricobot.cameras.replay import ReplayCamera, ReplayCameraConfig
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter
from bricobot.robots.base import FeatureSpec, Robot
from bricobot.runtime.loop import ControlLoop
from bricobot.runtime.record import RecordSettings, record_episodes

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


class NullRobot(Robot):
    """Reads and sends nothing: the loop's own floor."""

    robot_type = "null"

    def __init__(self) -> None:
        super().__init__()
        self._connected = False

    @property
    def observation_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in JOINTS}

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in JOINTS}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        self._connected = True

    def get_observation(self) -> dict[str, Any]:
        return dict.fromkeys(self.observation_features, 0.0)

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        return action

    def disconnect(self) -> None:
        self._connected = False


class CamerasOnArm(Robot):
    """An arm (any Robot without cameras) plus cameras read with ``read_latest`` each step."""

    def __init__(self, arm: Robot, cameras: dict[str, Camera]) -> None:
        super().__init__()
        self.arm = arm
        self.cameras = cameras
        self.robot_type = arm.robot_type

    @property
    def observation_features(self) -> FeatureSpec:
        out = dict(self.arm.observation_features)
        out.update({name: cam.shape for name, cam in self.cameras.items()})
        return out

    @property
    def action_features(self) -> FeatureSpec:
        return self.arm.action_features

    @property
    def is_connected(self) -> bool:
        return self.arm.is_connected

    def connect(self) -> None:
        self.arm.connect()
        for cam in self.cameras.values():
            cam.connect()

    def get_observation(self) -> dict[str, Any]:
        obs = self.arm.get_observation()
        times = dict(self.arm.capture_times_s) or {"observation.state": time.monotonic()}
        for name, cam in self.cameras.items():
            frame = cam.read_latest()  # type: ignore[attr-defined]
            obs[name] = frame.image
            times[name] = frame.capture_time_s
        self.capture_times_s = times
        return obs

    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        return self.arm.send_action(action)

    def disconnect(self) -> None:
        for cam in self.cameras.values():
            if cam.is_connected:
                cam.disconnect()
        self.arm.disconnect()


def make_images(folder: Path, n: int = 30, height: int = 480, width: int = 640) -> Path:
    """A folder of ``n`` JPEG frames of a moving pattern (a stand-in for a camera)."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n):
        img = np.stack(
            [(xx + 8 * i) % 256, (yy + 4 * i) % 256, ((xx + yy) // 2 + 6 * i) % 256], axis=-1
        ).astype(np.uint8)  # (H, W, 3) RGB
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def make_robot(
    arm_kind: str,
    robot_name: str,
    cameras: dict[str, ReplayCameraConfig],
    work: Path,
    priority: int | None = None,
) -> tuple[Robot, Callable[[], None]]:
    """The arm with its cameras: the follower driver on a virtual arm, or an in-process stub."""
    if arm_kind == "stub":
        replay = {n: ReplayCamera(c, name=n) for n, c in cameras.items()}
        return CamerasOnArm(NullRobot(), dict(replay)), lambda: None
    from bricobot.registry import lookup, make
    from bricobot.robots.registry import ROBOTS

    # The virtual arm runs in its own process, as `bricobot virtual-arm` does for a user, so its
    # physics does not share this process's GIL (a real arm's servos do not either).
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bricobot.cli.main",
            "virtual-arm",
            robot_name,
            "--role",
            "follower",
            f"output_dir={work / 'virtual_arm'}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = calibration = ""
    while not (port and calibration):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bricobot virtual-arm exited with {proc.wait()}")
        if "on port:" in line:
            port = line.rsplit("on port:", 1)[1].strip()
        elif line.startswith("calibration:"):
            calibration = line.split(":", 1)[1].strip()

    if priority is not None:
        # Servos answer in hardware: with a real-time loop, let the emulator not starve either.
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))

    def stop() -> None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    config = lookup(ROBOTS, "robot", robot_name).config_class()(
        port=port,
        calibration_path=calibration,
        cameras=dict(cameras),
        torque_on_exit="release",
        # The emulator shares the 2 cores with the encoders: a starved reply shows up as a slow
        # read stage in the figures instead of ending the run.
        reply_timeout_s=0.2,
    )
    robot: Robot = make(ROBOTS, "robot", config)
    return robot, stop


def sine_source(robot: Robot, fps: float) -> Callable[[dict[str, Any]], dict[str, float]]:
    """A slow ±10° sine on every joint around the first observed pose (well within the cap)."""
    keys = list(robot.action_features)
    center: dict[str, float] = {}
    step = [0]

    def source(obs: dict[str, Any]) -> dict[str, float]:
        if not center:
            center.update({k: float(obs[k]) for k in keys})
        t = step[0] / fps
        step[0] += 1
        return {k: center[k] + 10.0 * math.sin(0.5 * t + i) for i, k in enumerate(keys)}

    return source


def run_baseline(fps: float, seconds: float, priority: int | None) -> dict[str, Any]:
    robot = NullRobot()
    robot.connect()
    result = ControlLoop(robot, lambda obs: obs, fps, realtime_priority=priority).run(
        duration_s=seconds
    )
    return result.timing.summary()


def run_recording(
    fps: int,
    seconds: float,
    arm_kind: str,
    robot_name: str,
    work: Path,
    codec: str,
    priority: int | None,
) -> dict[str, Any]:
    images = make_images(work / "images")
    cameras = {
        name: ReplayCameraConfig(path=str(images), fps=float(fps), width=640, height=480)
        for name in ("front", "wrist")
    }
    robot, stop_arm = make_robot(arm_kind, robot_name, cameras, work, priority)
    root = work / "dataset"
    # As `bricobot record` does: the writer (and its encoder processes) starts before the robot.
    features = features_from_robot(robot.observation_features, robot.action_features)
    writer = DatasetWriter.create(
        root, fps=fps, features=features, robot_type=robot.robot_type, codec=codec
    )
    try:
        robot.connect()
        with writer:
            result = record_episodes(
                robot,
                sine_source(robot, fps),
                writer,
                RecordSettings(
                    num_episodes=1,
                    episode_time_s=seconds,
                    reset_time_s=0,
                    fps=fps,
                    realtime_priority=priority,
                ),
            )
    finally:
        writer.close()
        if robot.is_connected:
            robot.disconnect()
        stop_arm()
    meta = DatasetMeta.load(root)
    out = dict(result.timing[0])
    steps = out["steps"]
    out["frames_in_dataset"] = meta.total_frames
    out["frames_dropped"] = steps - meta.total_frames
    out["episode_timing_flags"] = {
        k: v for k, v in meta.episodes[0].items() if str(k).startswith("timing/")
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--arm", choices=["virtual", "stub"], default="virtual")
    parser.add_argument("--robot", choices=["so101", "koch"], default="so101")
    parser.add_argument("--codecs", nargs="+", default=["libsvtav1", "libx264"])
    parser.add_argument(
        "--realtime-priority",
        type=int,
        default=None,
        help="SCHED_FIFO priority of the control thread (needs permission); default: normal",
    )
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other processes compete for the same cores; the baseline shows their effect.
            "load_average_1m_before": round(os.getloadavg()[0], 2),
        },
        "seconds_per_run": args.seconds,
        "arm": args.arm
        if args.arm == "stub"
        else f"virtual {args.robot} follower (emulated bus + MuJoCo)",
        "cameras": "2 x replay 640x480 (JPEG folder)",
        "codecs": args.codecs,
        "realtime_priority": args.realtime_priority,
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="bricobot-bench-loop-") as tmp:
        for fps in args.rates:
            runs: dict[str, Any] = {
                "baseline": run_baseline(fps, args.seconds, args.realtime_priority)
            }
            for codec in args.codecs:
                try:
                    runs[f"recording_{codec}"] = run_recording(
                        fps,
                        args.seconds,
                        args.arm,
                        args.robot,
                        Path(tmp) / f"{fps}hz_{codec}",
                        codec,
                        args.realtime_priority,
                    )
                except Exception as exc:  # report the failure instead of hiding the run
                    runs[f"recording_{codec}"] = {"error": f"{type(exc).__name__}: {exc}"}
            report["runs"][f"{fps}hz"] = runs
    report["machine"]["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
