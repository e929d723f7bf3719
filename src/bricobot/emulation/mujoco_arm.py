"""A virtual arm: emulated servos on a pseudo-terminal whose shafts are the joints of a MuJoCo arm.

:class:`MujocoArm` is a :class:`~bricobot.emulation.bus.JointSource`:

- ``role="follower"``: goal positions written to the servos drive the MJCF's position actuators
  through physics (gravity, joint limits, actuator force limits), and Present_Position comes from
  ``qpos``. A servo with torque off keeps its joint where it is (as an arm resting on friction).
- ``role="leader"``: the joints follow a trajectory (a function of time: scripted, or a recording
  played back) and goals are ignored, like a leader arm moved by a person's hand.

Joint angle θ (degrees from the MJCF zero) ↔ raw encoder ticks: ``raw = zero_raw + direction · θ ·
resolution / 360``, with ``zero_raw`` per servo (deliberately not mid-range, so calibration has
something to do) and ``direction`` from ``motors.yaml``. :func:`virtual_calibration` writes the
calibration a perfect `bricobot calibrate` would produce for it, and :func:`start_virtual_arm`
starts the whole thing in-process (tests, benchmarks); ``bricobot virtual-arm`` runs it as a command.

    with start_virtual_arm("so101", role="follower", workdir=tmp_path) as arm:
        robot = SO101Follower(SO101FollowerConfig(port=arm.port,
                                                  calibration_path=str(arm.calibration_path)))
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.emulation.bus import Faults, VirtualBus
from bricobot.emulation.servo import VirtualServo
from bricobot.motors.calibration import MotorCalibration, save_calibration
from bricobot.motors.spec import RobotMotorsSpec, load_motors_spec, robot_motors_path
from bricobot.motors.tables import Protocol, model_spec

ROLES = ("follower", "leader")
#: Offsets (ticks) of each servo's zero pose from mid-range, by position on the bus. Not zero, so
#: the homing offsets calibration finds are not trivially 0; small, so ranges stay off the seam.
ZERO_OFFSETS_TICKS = (-310, 245, -180, 400, 95, -220, 150, -75)
#: Longest stretch of physics simulated at once; a bus idle for longer just settles.
MAX_STEP_S = 0.25

Trajectory = Callable[[float], dict[str, float]]
"""Time since start (s) → joint name → angle in degrees from the zero pose (a leader's hand)."""


def hardware_path(robot: str, filename: str) -> Path:
    """``hardware/<robot>/<filename>`` inside the installed package."""
    return Path(str(resources.files("bricobot.hardware"))) / robot / filename


def sine_trajectory(
    joint_ranges_deg: dict[str, tuple[float, float]],
    period_s: float = 6.0,
    amplitude_fraction: float = 0.25,
) -> Trajectory:
    """A scripted leader: every joint swings around the middle of its range, each out of phase."""
    names = list(joint_ranges_deg)

    def trajectory(t_s: float) -> dict[str, float]:
        out = {}
        for i, name in enumerate(names):
            lo, hi = joint_ranges_deg[name]
            # Around the zero pose when it is well inside the range, else around the middle.
            centre = 0.0 if min(-lo, hi) >= 0.2 * (hi - lo) else (lo + hi) / 2
            amplitude = amplitude_fraction * min(hi - centre, centre - lo)
            phase = 2 * math.pi * i / max(1, len(names))
            out[name] = centre + amplitude * math.sin(2 * math.pi * t_s / period_s + phase)
        return out

    return trajectory


def recorded_trajectory(
    joint_names: Sequence[str], positions_deg: np.ndarray, fps: float, loop: bool = True
) -> Trajectory:
    """Play back recorded joint angles ``positions_deg`` (T, J) degrees at ``fps``, linearly
    interpolated; holds the last pose at the end unless ``loop``."""
    data = np.asarray(positions_deg, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(joint_names) or len(data) == 0:
        raise ValueError(f"positions_deg must be (T, {len(joint_names)}), got {data.shape}")
    names = list(joint_names)
    duration_s = (len(data) - 1) / fps

    def trajectory(t_s: float) -> dict[str, float]:
        if loop and duration_s > 0:
            t_s = t_s % duration_s
        x = min(max(t_s * fps, 0.0), len(data) - 1.0)
        i = int(x)
        j = min(i + 1, len(data) - 1)
        row = data[i] + (x - i) * (data[j] - data[i])  # (J,)
        return dict(zip(names, row.tolist(), strict=True))

    return trajectory


@dataclass(frozen=True)
class ServoJoint:
    """How one servo's shaft maps to one MJCF joint."""

    servo_id: int
    joint: str
    resolution: int
    zero_raw: float
    direction: int

    def raw_from_deg(self, deg: float) -> float:
        return self.zero_raw + self.direction * deg * self.resolution / 360.0

    def deg_from_raw(self, raw: float) -> float:
        return self.direction * (raw - self.zero_raw) * 360.0 / self.resolution


class MujocoArm:
    """A MuJoCo arm as the joint source of a :class:`VirtualBus` (see the module docstring).

    ``lock`` guards ``model``/``data``: hold it to read or render the arm from another thread.
    """

    def __init__(
        self,
        model_path: str | Path,
        joints: Sequence[ServoJoint],
        role: str = "follower",
        trajectory: Trajectory | None = None,
    ) -> None:
        import mujoco

        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        self.model = mujoco.MjModel.from_xml_path(str(model_path))
        self.data = mujoco.MjData(self.model)
        self.role = role
        self.joints = {j.servo_id: j for j in joints}
        self.lock = threading.RLock()
        self.time_s = 0.0
        self._mujoco = mujoco
        self._qpos_adr: dict[int, int] = {}
        self._actuator: dict[int, int] = {}
        self._ranges_deg: dict[str, tuple[float, float]] = {}
        for j in joints:
            jid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, j.joint)
            if jid < 0:
                raise ValueError(
                    f"{model_path}: no joint named {j.joint!r} (servo id {j.servo_id})"
                )
            self._qpos_adr[j.servo_id] = int(self.model.jnt_qposadr[jid])
            lo, hi = self.model.jnt_range[jid]
            self._ranges_deg[j.joint] = (math.degrees(lo), math.degrees(hi))
            aid = -1
            for a in range(self.model.nu):
                if self.model.actuator_trnid[a, 0] == jid:
                    aid = a
            if role == "follower" and aid < 0:
                raise ValueError(f"{model_path}: joint {j.joint!r} has no actuator to follow goals")
            self._actuator[j.servo_id] = aid
        self.trajectory = trajectory or sine_trajectory(self._ranges_deg)
        #: Joint angles (degrees) a person's hands hold the arm at; while set, they win over
        #: physics and the trajectory (see emulation/calibration_person.py).
        self.hand_deg: dict[str, float] | None = None
        mujoco.mj_forward(self.model, self.data)
        if role == "follower":
            for sid, aid in self._actuator.items():
                self.data.ctrl[aid] = self.data.qpos[self._qpos_adr[sid]]

    @property
    def joint_ranges_deg(self) -> dict[str, tuple[float, float]]:
        """MJCF joint ranges in degrees, by joint name."""
        return dict(self._ranges_deg)

    def positions_deg(self) -> dict[str, float]:
        """Current joint angles (degrees) by joint name."""
        with self.lock:
            return {
                j.joint: math.degrees(self.data.qpos[self._qpos_adr[sid]])
                for sid, j in self.joints.items()
            }

    def set_positions_deg(self, positions: dict[str, float]) -> None:
        """Put joints at these angles now (a hand moving the arm); follower goals follow."""
        with self.lock:
            for sid, j in self.joints.items():
                if j.joint in positions:
                    q = math.radians(positions[j.joint])
                    self.data.qpos[self._qpos_adr[sid]] = q
                    self.data.qvel[self.model.jnt_dofadr[self._joint_id(j.joint)]] = 0.0
                    if self._actuator[sid] >= 0:
                        self.data.ctrl[self._actuator[sid]] = q
            self._mujoco.mj_forward(self.model, self.data)

    def _joint_id(self, name: str) -> int:
        return int(self._mujoco.mj_name2id(self.model, self._mujoco.mjtObj.mjOBJ_JOINT, name))

    def step(self, goals: dict[int, float | None], dt_s: float) -> dict[int, float]:
        """JointSource: advance by ``dt_s`` towards ``goals`` (raw ticks); return raw ticks."""
        with self.lock:
            dt_s = min(max(dt_s, 0.0), MAX_STEP_S)
            self.time_s += dt_s
            if self.hand_deg is not None:
                self.set_positions_deg(self.hand_deg)
            elif self.role == "leader":
                self._follow_trajectory()
            else:
                self._simulate(goals, dt_s)
            return {
                sid: j.raw_from_deg(math.degrees(self.data.qpos[self._qpos_adr[sid]]))
                for sid, j in self.joints.items()
            }

    def _follow_trajectory(self) -> None:
        target = self.trajectory(self.time_s)
        for sid, j in self.joints.items():
            if j.joint in target:
                lo, hi = self._ranges_deg[j.joint]
                self.data.qpos[self._qpos_adr[sid]] = math.radians(
                    min(max(target[j.joint], lo), hi)
                )
        self._mujoco.mj_forward(self.model, self.data)

    def _simulate(self, goals: dict[int, float | None], dt_s: float) -> None:
        model, data = self.model, self.data
        for sid, goal in goals.items():
            if sid not in self.joints:
                continue
            aid = self._actuator[sid]
            adr = self._qpos_adr[sid]
            if goal is None:  # torque off: the joint stays where it is
                data.ctrl[aid] = data.qpos[adr]
                continue
            lo, hi = model.actuator_ctrlrange[aid]
            data.ctrl[aid] = min(max(math.radians(self.joints[sid].deg_from_raw(goal)), lo), hi)
        steps = round(dt_s / model.opt.timestep)
        for _ in range(steps):
            self._mujoco.mj_step(model, data)


def servo_joints(
    spec: RobotMotorsSpec, zero_offsets: Sequence[int] = ZERO_OFFSETS_TICKS
) -> list[ServoJoint]:
    """One :class:`ServoJoint` per motor of ``spec``: joint = motor name, zero_raw near mid-range."""
    joints = []
    for i, motor in enumerate(spec.motors):
        resolution = model_spec(motor.model).resolution
        zero_raw = resolution // 2 + zero_offsets[i % len(zero_offsets)]
        joints.append(
            ServoJoint(motor.id, motor.name, resolution, float(zero_raw), motor.direction)
        )
    return joints


def virtual_calibration(
    spec: RobotMotorsSpec, joints: Sequence[ServoJoint], ranges_deg: dict[str, tuple[float, float]]
) -> dict[str, MotorCalibration]:
    """The calibration a careful `bricobot calibrate` finds on this virtual arm.

    Homing offsets make the zero pose read mid-range; the recorded range is the MJCF joint range.
    """
    out = {}
    for motor, joint in zip(spec.motors, joints, strict=True):
        mspec = model_spec(motor.model)
        half = mspec.resolution // 2
        if "Homing_Offset" not in mspec.registers:
            offset = 0
        elif mspec.protocol is Protocol.DYNAMIXEL:
            offset = int(half - joint.zero_raw)  # Present = raw + offset
        else:
            offset = int(joint.zero_raw - half)  # Present = raw − offset
        zero_ticks = half
        lo, hi = ranges_deg[motor.name]
        ticks = sorted(
            round(zero_ticks + joint.direction * d * mspec.resolution / 360.0) for d in (lo, hi)
        )
        is_gripper = motor.name == spec.gripper_name
        out[motor.name] = MotorCalibration(
            name=motor.name,
            id=motor.id,
            model=motor.model,
            homing_offset=offset,
            zero_ticks=zero_ticks,
            range_min_ticks=ticks[0],
            range_max_ticks=ticks[1],
            direction=joint.direction,
            resolution=mspec.resolution,
            gripper=is_gripper,
            closed_deg=spec.gripper_closed_deg if is_gripper else 0.0,
            open_deg=spec.gripper_open_deg if is_gripper else 100.0,
        )
    return out


@dataclass
class VirtualArm:
    """A running virtual arm: open ``port`` like a USB adapter, load ``calibration_path``."""

    robot: str
    role: str
    port: str
    calibration_path: Path
    bus: VirtualBus
    arm: MujocoArm
    spec: RobotMotorsSpec
    _tmpdir: Any = field(default=None, repr=False)
    #: The scripted person who moves the arm when `bricobot calibrate` asks (see
    #: emulation/calibration_person.py); None when started with ``person=False``.
    person: Any = None

    def stop(self) -> None:
        """Stop serving (the port disappears); idempotent."""
        if self.person is not None:
            self.person.stop()
            self.person = None
        self.bus.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def sim_camera(
        self, camera: str, width: int = 640, height: int = 480, fps: float = 30.0, name: str = ""
    ) -> Any:
        """A :class:`~bricobot.cameras.sim.SimCamera` rendering this arm's MJCF camera ``camera``
        as it moves (pass it to a robot: ``SO101Follower(cfg, cameras={"wrist": cam})``)."""
        from bricobot.cameras.sim import SimCamera, SimCameraConfig

        config = SimCameraConfig(camera=camera, width=width, height=height, fps=fps)
        return SimCamera(
            config,
            name=name or camera,
            model=self.arm.model,
            data=self.arm.data,
            lock=self.arm.lock,
        )

    def unplug(self, motor: str) -> None:
        """Make one motor stop answering, as if its cable came out."""
        self.bus.faults.unplugged.add(self.spec.by_name(motor).id)

    def __enter__(self) -> VirtualArm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def calibrated_servos(
    spec: RobotMotorsSpec,
    joints: Sequence[ServoJoint],
    calibration: dict[str, MotorCalibration],
    start_raw: dict[int, float],
    servo_class: type[VirtualServo] = VirtualServo,
) -> list[VirtualServo]:
    """One emulated servo per motor, holding ``calibration`` in its EEPROM (as after a real
    `bricobot calibrate`), its shaft at ``start_raw`` (raw ticks by servo id)."""
    servos = []
    for motor, joint in zip(spec.motors, joints, strict=True):
        cal = calibration[motor.name]
        registers: dict[str, int] = {}
        mspec = model_spec(motor.model)
        if "Homing_Offset" in mspec.registers:
            registers["Homing_Offset"] = cal.homing_offset
        if "Min_Position_Limit" in mspec.registers:
            registers["Min_Position_Limit"] = cal.range_min_ticks
            registers["Max_Position_Limit"] = cal.range_max_ticks
        servos.append(
            servo_class(
                motor.model,
                servo_id=motor.id,
                baudrate=spec.baudrate,
                raw_ticks=start_raw[joint.servo_id],
                **registers,
            )
        )
    return servos


def _arm_files(
    robot: str, role: str, motors_file: str | Path | None, model_path: str | Path | None
) -> tuple[RobotMotorsSpec, Path]:
    """The motors spec and MJCF of a virtual arm (the robot's own unless given)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    spec = load_motors_spec(motors_file or robot_motors_path(robot, role))
    model_file = Path(model_path) if model_path else hardware_path(robot, f"{robot}.xml")
    if not model_file.is_file():
        raise FileNotFoundError(f"MuJoCo model {model_file} not found for virtual {robot!r} arm")
    return spec, model_file


def start_virtual_arm(
    robot: str = "so101",
    role: str = "follower",
    workdir: str | Path | None = None,
    port_link: str | None = None,
    trajectory: Trajectory | None = None,
    faults: Faults | None = None,
    motors_file: str | Path | None = None,
    model_path: str | Path | None = None,
    initial_positions_deg: dict[str, float] | None = None,
    servo_class: type[VirtualServo] = VirtualServo,
    person: bool = True,
    say: Callable[[str], None] | None = None,
) -> VirtualArm:
    """Start an emulated servo bus backed by a MuJoCo arm, in this process; returns at once.

    Args:
        robot: folder under ``hardware/`` (``"so101"``, ``"koch"``): its MJCF ``<robot>.xml`` and
            ``motors.yaml`` (``motors_leader.yaml`` for a leader when present).
        role: ``"follower"`` (physics follows goals) or ``"leader"`` (joints follow ``trajectory``,
            default: a slow scripted swing of every joint).
        workdir: where the calibration file is written (default: a temporary folder removed by
            :meth:`VirtualArm.stop`). The file is ``<robot>_<role>.json``.
        port_link: optional stable symlink to the pty (e.g. ``/tmp/so101_follower``).
        faults: fault injection (lost/corrupt replies, unplugged ids); change ``arm.bus.faults`` live.
        initial_positions_deg: joint angles to start from (default: the MJCF zero pose).
        servo_class: the servo emulator (tests pass a subclass that logs register writes).
        person: a scripted person stands at the arm and moves it when `bricobot calibrate` asks
            (:class:`~bricobot.emulation.calibration_person.CalibrationPerson`; ``say`` gets
            what the person reports).

    Returns a :class:`VirtualArm` with ``port``, ``calibration_path`` and ``stop()`` (also a
    context manager). Servo ids and models come from motors.yaml; each servo already holds the
    homing offset of the written calibration, as after a real `bricobot calibrate`.
    """
    spec, model_file = _arm_files(robot, role, motors_file, model_path)
    joints = servo_joints(spec)
    arm = MujocoArm(model_file, joints, role=role, trajectory=trajectory)
    if initial_positions_deg:
        arm.set_positions_deg(initial_positions_deg)
    calibration = virtual_calibration(spec, joints, arm.joint_ranges_deg)

    tmpdir = None if workdir else tempfile.TemporaryDirectory(prefix=f"bricobot-virtual-{robot}-")
    folder = Path(tmpdir.name if tmpdir is not None else str(workdir))
    calibration_path = folder.resolve() / f"{robot}_{role}.json"
    save_calibration(calibration_path, calibration, robot_type=f"{spec.robot_type}")

    servos = calibrated_servos(spec, joints, calibration, arm.step({}, 0.0), servo_class)
    bus = VirtualBus(servos, port_path=port_link, faults=faults, joint_source=arm)
    bus.start()
    virtual = VirtualArm(robot, role, bus.path, calibration_path, bus, arm, spec, _tmpdir=tmpdir)
    if person:
        from bricobot.emulation.calibration_person import CalibrationPerson

        virtual.person = CalibrationPerson(virtual, say=say).start()
    return virtual
