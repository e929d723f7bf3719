"""Virtual hardware for the end-to-end runtime tests: follower and leader arms, replay cameras.

The arms are the real drivers on emulated servo buses backed by MuJoCo (``start_virtual_arm``),
so these tests run the same code paths as a real arm; only the port differs. The tests marked
``hardware`` also run on real arms (faults are injected only into virtual ones; checks that read the
emulator's registers are skipped there)::

    BRICOBOT_ROBOT=so101 BRICOBOT_ROBOT_PORT=/dev/serial/by-id/... \
    BRICOBOT_ROBOT_CALIBRATION=~/.bricobot/calibration/so101_follower_follower.json \
    BRICOBOT_LEADER_PORT=/dev/serial/by-id/... BRICOBOT_LEADER_CALIBRATION=... \
    pytest tests/e2e -m hardware
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from bricobot.cameras.replay import ReplayCameraConfig
from bricobot.emulation.mujoco_arm import VirtualArm, start_virtual_arm
from bricobot.registry import lookup
from bricobot.robots.registry import ROBOTS
from bricobot.teleop.registry import TELEOPERATORS

#: The arm used end to end (its leader is "<robot>_leader").
ROBOT = os.environ.get("BRICOBOT_ROBOT", "so101")
#: The emulator answers from a thread of the test process, which competes for the CPU with the
#: recorder (and, in CI, with other jobs): virtual arms get a longer reply timeout than hardware.
VIRTUAL_REPLY_TIMEOUT_S = 0.5
CAMERA_HW = (48, 64)


@dataclass
class Arm:
    """A follower or leader: its port and calibration file, and the emulator when virtual."""

    port: str
    calibration_path: str
    virtual: VirtualArm | None


def _arm(role: str, tmp_path: Path) -> Iterator[Arm]:
    prefix = "BRICOBOT_ROBOT" if role == "follower" else "BRICOBOT_LEADER"
    if os.environ.get(f"{prefix}_PORT"):
        yield Arm(os.environ[f"{prefix}_PORT"], os.environ.get(f"{prefix}_CALIBRATION", ""), None)
        return
    with start_virtual_arm(ROBOT, role=role, workdir=tmp_path) as arm:
        yield Arm(arm.port, str(arm.calibration_path), arm)


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[Arm]:
    yield from _arm("follower", tmp_path)


@pytest.fixture
def virtual_follower(follower: Arm) -> VirtualArm:
    """The emulator behind the follower; tests that inject faults skip on a real arm."""
    if follower.virtual is None:
        pytest.skip("injects faults: virtual arms only")
    return follower.virtual


@pytest.fixture
def leader(tmp_path: Path) -> Iterator[Arm]:
    yield from _arm("leader", tmp_path)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten small JPEG frames of a moving pattern, played back as cameras."""
    folder = tmp_path_factory.mktemp("camera")
    h, w = CAMERA_HW
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(10):
        rgb = np.stack([(xx * 4 + 20 * i) % 256, yy * 5 % 256, np.full_like(xx, 25 * i)], -1)
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), rgb.astype(np.uint8)[..., ::-1])
    return folder


def camera_config(
    folder: Path, fps: float = 30.0, loop: bool = True, max_age_periods: float = 30.0
) -> ReplayCameraConfig:
    """A replay camera; a frame may be a second old before it counts as stale, so a loaded CI
    machine does not fail the flows that are not about cameras."""
    h, w = CAMERA_HW
    return ReplayCameraConfig(
        path=str(folder), fps=fps, width=w, height=h, loop=loop, max_age_periods=max_age_periods
    )


def _timeouts(arm: Arm) -> dict[str, Any]:
    return {"reply_timeout_s": VIRTUAL_REPLY_TIMEOUT_S} if arm.virtual is not None else {}


def robot_config(arm: Arm, cameras: dict[str, Any] | None = None, **fields: Any) -> Any:
    config_class = lookup(ROBOTS, "robot", ROBOT).config_class()
    fields = {**_timeouts(arm), **fields}
    return config_class(
        port=arm.port, calibration_path=arm.calibration_path, cameras=cameras or {}, **fields
    )


def leader_config(arm: Arm) -> Any:
    config_class = lookup(TELEOPERATORS, "teleoperator", f"{ROBOT}_leader").config_class()
    return config_class(port=arm.port, calibration_path=arm.calibration_path, **_timeouts(arm))


def timeout_args(arm: Arm, group: str) -> list[str]:
    """The same longer reply timeout for a virtual arm, as command-line overrides."""
    return [f"{group}.{k}={v}" for k, v in _timeouts(arm).items()]


def torque_on(arm: Arm) -> list[bool]:
    """Torque_Enable of every servo, read from the emulator."""
    assert arm.virtual is not None, "reads the emulator's registers: virtual arms only"
    return [arm.virtual.bus.servo(m.id).torque_enabled for m in arm.virtual.spec.motors]


def settled(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """True once ``condition`` holds; the emulator applies the last bytes written on its own thread
    (which may wait for a CPU on a busy machine: the deadline only bounds a failing test)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def check_torque(arm: Arm, on: bool) -> None:
    """Assert every servo's torque is ``on`` (emulator registers; not checkable on a real arm)."""
    if arm.virtual is None:
        return
    assert settled(lambda: all(t is on for t in torque_on(arm))), torque_on(arm)
