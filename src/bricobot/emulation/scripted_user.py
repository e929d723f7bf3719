"""A scripted "person" who calibrates an emulated arm by moving its virtual joints.

Implements :class:`bricobot.motors.calibration.CalibrationUser`: at each prompt it puts the virtual
shafts where a person's hands would (zero pose, a sweep through each joint's range, a move in the
+ direction), so the real calibration code runs unmodified against the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bricobot.emulation.bus import VirtualBus


@dataclass
class JointScript:
    """How one virtual joint is built and moved (ticks are raw encoder ticks).

    ``zero_raw``: the shaft reading in the model's zero pose (what calibration must recover);
    ``sweep_deg``: the range the person sweeps, degrees from the zero pose;
    ``sign``: +1 when the model's + direction turns the shaft to growing raw ticks.
    """

    zero_raw: float
    sweep_deg: tuple[float, float] = (-90.0, 90.0)
    sign: int = 1
    plus_deg: float = 30.0


@dataclass
class ScriptedCalibrationUser:
    bus: VirtualBus
    joints: dict[int, JointScript]  # by servo id
    sweep_steps: int = 24
    messages: list[str] = field(default_factory=list)
    _step: int = 0

    def _set(self, servo_id: int, deg: float) -> None:
        joint = self.joints[servo_id]
        servo = self.bus.servo(servo_id)
        raw = joint.zero_raw + joint.sign * deg * servo.spec.resolution / 360.0
        if not servo.is_dynamixel:
            raw %= servo.spec.resolution  # the Feetech encoder wraps once per turn
        servo.raw_ticks = raw

    def say(self, text: str) -> None:
        self.messages.append(text)

    def wait(self, step: str, prompt: str) -> None:
        self.messages.append(prompt)
        with self.bus.locked():
            for servo_id, joint in self.joints.items():
                if step == "direction":
                    self._set(servo_id, joint.plus_deg)
                elif step in ("zero_pose", "sweep_start"):
                    self._set(servo_id, 0.0)
        self._step = 0

    def sweep_done(self, elapsed_s: float) -> bool:
        self._step += 1
        n = self.sweep_steps
        if self._step > 2 * n + 1:
            return True
        with self.bus.locked():
            for servo_id, joint in self.joints.items():
                lo, hi = joint.sweep_deg
                k = min(self._step, 2 * n)
                # 0 → hi → lo: half the steps up to hi, half down to lo, as a person would sweep.
                deg = hi * k / n if k <= n else hi + (lo - hi) * (k - n) / n
                self._set(servo_id, deg)
        return False
