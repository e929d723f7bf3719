"""A scripted person standing at a virtual arm, who does what `bricobot calibrate` asks.

Nobody can move a virtual arm by hand, so the interactive calibration could not be tried (or
tested) without hardware. This person watches the servos the way a person watches the prompts and
moves the MuJoCo arm with its "hands" (:attr:`MujocoArm.hand_deg`):

1. calibration clears every homing offset and widens the position limits → the person places the
   arm in the zero pose and holds it (``state == "zero"``: now press Enter);
2. new homing offsets are written and the zero pose read again → once the calibration samples
   the sweep, the person moves every joint through its MJCF range in small steps, each held until
   the calibration has sampled it (sync reads counted on the bus), then
   returns to zero and moves every joint by ``plus_deg`` in its + direction
   (``state == "plus"``: the sweep is done; press Enter for the sweep and for the direction check);
3. the final position limits are written → the person lets go (``state == "done"``); a follower
   then obeys its goals again, a leader its trajectory.

Each step waits for the calibration's own bus traffic, never for a wall-clock time, so it holds on a
busy machine. ``say`` reports each step (the virtual-arm command prints it for a person at a terminal).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bricobot.emulation.mujoco_arm import VirtualArm

#: Largest move between two samples of the sweep (degrees): far below the half turn that
#: calibration reads as a wrap of the encoder.
SWEEP_STEP_DEG = 10.0
#: Calibration samples (sync reads) to let pass while a sweep position is held.
SAMPLES_PER_POSITION = 2
#: A person turns a continuous joint (wrist roll) less than a full turn: the encoder seam at ±180°
#: is not crossed, as calibration requires.
MAX_SWEEP_DEG = 175.0
POLL_S = 0.002


class CalibrationPerson:
    """Follows `bricobot calibrate` on ``arm`` from a background thread (see the module doc)."""

    def __init__(
        self,
        arm: VirtualArm,
        plus_deg: float = 30.0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.arm = arm
        self.plus_deg = plus_deg
        self.say = say or (lambda text: None)
        self.state = "waiting"
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="calibration-person", daemon=True)

    def start(self) -> CalibrationPerson:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.arm.arm.hand_deg = None

    def wait_for(self, state: str, timeout_s: float = 60.0) -> bool:
        """Block until the person reached ``state`` (for tests and scripted drivers)."""
        with self.changed:
            return self.changed.wait_for(lambda: self.state == state, timeout=timeout_s)

    # --- what the person sees --------------------------------------------------------------

    def _registers(self, name: str) -> list[int | None]:
        with self.arm.bus.locked():
            return [
                servo.peek(name) if name in servo.spec.registers else None
                for servo in self.arm.bus.servos
            ]

    def _offsets_cleared(self) -> bool:
        offsets = [v for v in self._registers("Homing_Offset") if v is not None]
        mins = [v for v in self._registers("Min_Position_Limit") if v is not None]
        return bool(offsets) and all(v == 0 for v in offsets) and all(v == 0 for v in mins)

    def _offsets_written(self) -> bool:
        return any(v for v in self._registers("Homing_Offset"))

    def _limits_written(self) -> bool:
        mins = [v for v in self._registers("Min_Position_Limit") if v is not None]
        return bool(mins) and any(v != 0 for v in mins)

    def _samples(self) -> int:
        """Sync reads served: calibration samples positions with them (writes are single)."""
        return self.arm.bus.counts["group_reads"]

    # --- what the person does --------------------------------------------------------------

    def _set_state(self, state: str, text: str) -> None:
        with self.changed:
            self.state = state
            self.changed.notify_all()
        self.say(text)

    def _hold(self, pose: dict[str, float]) -> None:
        self.arm.arm.hand_deg = dict(pose)

    def _wait_until(self, condition: Callable[[], bool]) -> bool:
        while not self._stop.is_set():
            if condition():
                return True
            self._stop.wait(POLL_S)
        return False

    def _hold_until_sampled(self, pose: dict[str, float]) -> bool:
        self._hold(pose)
        return self._wait_for_samples(SAMPLES_PER_POSITION)

    def _wait_for_samples(self, count: int) -> bool:
        seen = self._samples()
        return self._wait_until(lambda: self._samples() >= seen + count)

    def _run(self) -> None:
        joints = {
            name: (max(lo, -MAX_SWEEP_DEG), min(hi, MAX_SWEEP_DEG))
            for name, (lo, hi) in self.arm.arm.joint_ranges_deg.items()
        }
        zero = dict.fromkeys(joints, 0.0)
        if not self._wait_until(self._offsets_cleared):
            return
        self._hold(zero)
        self._set_state("zero", "person: holding the arm in the zero pose — press Enter")
        if not self._wait_until(self._offsets_written):
            return
        # The zero pose is read once more after the offsets; the sweep's samples follow Enter.
        self._set_state("sweeping", "person: ready to sweep every joint — press Enter to start")
        if not self._wait_for_samples(2):
            return
        for pose in sweep_poses(joints):
            if not self._hold_until_sampled(pose):
                return
        plus = {
            name: min(self.plus_deg, 0.5 * hi) if hi > 0 else 0.0
            for name, (_, hi) in joints.items()
        }
        self._hold(plus)
        self._set_state(
            "plus",
            "person: swept every joint, now holding each about +30° from zero — press Enter "
            "(sweep done), then Enter (direction check)",
        )
        if not self._wait_until(self._limits_written):
            return
        self.arm.arm.hand_deg = None
        self._set_state("done", "person: calibration written; letting go of the arm")


def sweep_poses(joints: dict[str, tuple[float, float]]) -> list[dict[str, float]]:
    """Poses from zero to every joint's upper limit, down to its lower limit and back to zero,
    no joint moving more than :data:`SWEEP_STEP_DEG` between two poses."""
    path: list[float] = [0.0, 1.0, -1.0, 0.0]  # fractions: zero → hi → lo → zero
    widest = max(max(abs(lo), abs(hi)) for lo, hi in joints.values())
    poses = []
    for a, b in itertools.pairwise(path):
        steps = max(1, int(2 * widest / SWEEP_STEP_DEG))
        for k in range(1, steps + 1):
            f = a + (b - a) * k / steps
            poses.append({n: (hi * f if f >= 0 else -lo * f) for n, (lo, hi) in joints.items()})
    return poses
