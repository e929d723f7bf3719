"""Helpers of the viewer tests: a fake training run, servers in a thread or as ``bricobot view``,
the browser's location, and a snapshot of a folder to prove the viewer wrote nothing."""

from __future__ import annotations

import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.viewer.server import ViewerServer

#: Flags for Debian's chromium in a container: no sandbox, no GPU, no network chatter.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The shared video dataset: 4 episodes of 3 s at 30 fps, two cameras.
EPISODES, LENGTH, CAMERAS = 4, 90, ("front", "wrist")


def artifacts_dir() -> Path:
    """Where screenshots are copied for people to look at (BRICOBOT_TEST_ARTIFACTS overrides)."""
    default = Path(tempfile.gettempdir()) / "bricobot-test-artifacts" / "viewer"
    path = Path(os.environ.get("BRICOBOT_TEST_ARTIFACTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def train_record(step: int) -> dict[str, Any]:
    """One logged training window, shaped like the trainer's (ACT's loss terms)."""
    decay = math.exp(-step / 300)
    return {
        "step": step,
        "epoch": step // 200,
        "loss": 0.05 + 2.0 * decay,
        "l1_loss": 0.04 + 0.8 * decay,
        "kld_loss": 0.01 + 0.12 * decay,
        "grad_norm": 1.0 + 40 * decay,
        "data_wait_share": 0.05 + 0.02 * math.sin(step / 50),
        "lr/main": 1e-4 * min(1.0, step / 100),
        "lr/backbone": 1e-5 * min(1.0, step / 100),
    }


def write_fake_run(root: Path, steps: int = 1000, finished: bool = False) -> Path:
    """A training run folder: metrics.jsonl (train, validation, eval records) and a rollout video
    written like evaluation writes them (``eval/step_<step>/videos/episode_0000.mp4``)."""
    from bricobot.envs.video import write_mp4

    start = {"event": "start", "step": 0, "policy": "act", "parameters": 1789238, "device": "cpu"}
    records: list[dict[str, Any]] = [{**start, "batch_size": 8}]
    for step in range(20, steps + 1, 20):
        records.append(train_record(step))
        if step % 100 == 0:
            records.append({"step": step, "val_loss": 0.08 + 2.2 * math.exp(-step / 300)})
        if step % 200 == 0:
            rate = min(0.9, step / 1000)
            low, high = max(0.0, rate - 0.2), min(1.0, rate + 0.15)
            records.append(
                {"step": step, "eval/success_rate": rate, "eval/ci_low": low, "eval/ci_high": high}
            )
    if finished:
        records.append({"event": "end", "step": steps, "steps_per_s": 12.5})
    root.mkdir(parents=True, exist_ok=True)
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "checkpoints" / f"{steps:06d}").mkdir(parents=True)
    frames = [np.full((64, 96, 3), (40 + 2 * i, 90, 160), np.uint8) for i in range(45)]
    write_mp4(root / "eval" / f"step_{steps:06d}" / "videos" / "episode_0000.mp4", frames, 30)
    return root


@contextmanager
def serving(root: Path) -> Iterator[ViewerServer]:
    """A viewer server on a free port of 127.0.0.1, in a thread, for plain HTTP tests."""
    server = ViewerServer(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def bricobot_view(path: Path, timeout_s: float = 180.0) -> Iterator[str]:
    """Run ``bricobot view <path>`` as a user would; yield the URL it prints; stop it with Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bricobot.cli.main", "view", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []], daemon=True).start()
    try:
        line = lines.get(timeout=timeout_s)
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"bricobot view printed {line!r}, no URL"
        yield match.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=30) == 0, "bricobot view did not exit cleanly on Ctrl-C"
        finally:
            if proc.poll() is None:
                proc.kill()


def chromium_path() -> str | None:
    """A Chromium (or Chrome) binary: $BRICOBOT_CHROMIUM, else the first one on PATH."""
    if os.environ.get("BRICOBOT_CHROMIUM"):
        return os.environ["BRICOBOT_CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((p for p in map(shutil.which, names) if p), None)


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time, to prove nothing changed."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def frame_color(episode: int, frame: int) -> tuple[int, int, int]:
    """The flat RGB color of one frame of :func:`write_coded_dataset`: red tells the episode,
    green the frame, so a screenshot of the video proves which frame of which episode it shows."""
    return 30 + 50 * episode, 10 + 7 * frame, 128


def write_coded_dataset(root: Path, episodes: int = 4, length: int = 30) -> Path:
    """A video dataset whose frames are flat colors coding (episode, frame); it validates (flat
    frames survive the codec, unlike noise), so ``compact`` can merge it into shared files."""
    from bricobot.datasets.schema import features_from_robot
    from bricobot.datasets.writer import DatasetWriter

    joints = {f"j{i}.pos": float for i in range(3)}
    cams = {"front": (32, 32, 3), "wrist": (32, 32, 3)}
    features = features_from_robot({**joints, **cams}, joints, use_videos=True, timing=False)
    with DatasetWriter.create(root, 30, features, "so101_sim") as writer:
        for ep in range(episodes):
            for t in range(length):
                image = np.full((32, 32, 3), frame_color(ep, t), np.uint8)
                state = np.array([ep, t, -t], np.float32)
                frame = {"observation.state": state, "action": state + 1}
                frame.update({f"observation.images.{c}": image for c in cams})
                writer.add_frame(frame, task="coded")
            writer.save_episode()
    return root
