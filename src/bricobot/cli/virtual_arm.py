"""``bricobot virtual-arm``: an emulated servo bus on a pseudo-terminal, backed by a MuJoCo arm.

Examples::

    bricobot virtual-arm so101 --role follower          # same as: robot=so101 role=follower
    bricobot virtual-arm robot=so101 role=leader        # a leader moved by a scripted swing
    bricobot virtual-arm robot=koch role=leader trajectory=episode0.npy trajectory_fps=30
    bricobot virtual-arm robot=so101 port_link=/tmp/so101_follower
    bricobot virtual-arm robot=so101 model=so101/scene_pick_cube.xml   # the arm in its task scene

It prints the port and the calibration file; point a robot or a leader at them exactly as at a
real arm, e.g. ``bricobot teleoperate robot=so101 robot.port=<port>
robot.calibration_path=<file> teleop=so101_leader teleop.port=<leader port> …``. Runs until Ctrl-C.
In Python, :func:`bricobot.emulation.mujoco_arm.start_virtual_arm` starts the same in-process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bricobot.cli.app import run_command


@dataclass
class VirtualArmCommandConfig:
    # Folder under hardware/ (so101, koch). `robot=so101` on the command line means the same
    # (the field is not called robot because that name is the robot preset group).
    arm: str = "so101"
    role: str = "follower"  # follower: physics follows goals; leader: joints follow a trajectory
    port_link: str = ""  # optional stable symlink to the pty, e.g. /tmp/so101_follower
    # MJCF to simulate: "" = hardware/<arm>/<arm>.xml; a scene holding the arm works too,
    # e.g. so101/scene_pick_cube.xml (a path, or relative to hardware/).
    model: str = ""
    # Leader only: recorded joint angles in degrees, (T, joints) .npy or .csv with a header of joint
    # names; "" = a slow scripted swing of every joint.
    trajectory: str = ""
    trajectory_fps: float = 30.0
    swing_period_s: float = 6.0  # scripted swing period
    duration_s: float = 0.0  # 0 = run until Ctrl-C
    output_dir: str = ""  # the calibration file and config.yaml go here


def translate_argv(argv: Sequence[str]) -> list[str]:
    """Accept ``so101 --role follower`` and ``robot=so101 role=follower`` (→ ``arm=so101 …``)."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and arg != "--help" and len(arg) > 2:
            key, sep, value = arg[2:].partition("=")
            if not sep and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            key = key.replace("-", "_")
            out.append(f"{'arm' if key == 'robot' else key}={value}")
        elif "=" not in arg and not arg.startswith("-"):
            out.append(f"arm={arg}")
        elif arg.startswith("robot="):
            out.append("arm=" + arg.removeprefix("robot="))
        else:
            out.append(arg)
        i += 1
    return out


def load_trajectory(path: str, fps: float, joint_names: list[str]):  # type: ignore[no-untyped-def]
    import numpy as np

    from bricobot.emulation.mujoco_arm import recorded_trajectory

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"trajectory file {file} not found: give a .npy or .csv of joint angles in degrees "
            "(trajectory=<file>), or no trajectory for a scripted swing"
        )
    if file.suffix == ".npy":
        data = np.load(file, allow_pickle=False)
        names = joint_names
    else:
        with file.open() as f:
            header = f.readline().strip().split(",")
        names = [h.strip().removesuffix(".pos") for h in header]
        data = np.loadtxt(file, delimiter=",", skiprows=1, ndmin=2)
    return recorded_trajectory(names, data, fps)


def known_robots() -> list[str]:
    """Folders under the packaged ``hardware/`` that describe an arm (they hold a motors.yaml)."""
    from importlib import resources

    hardware = Path(str(resources.files("bricobot.hardware")))
    return sorted(p.parent.name for p in hardware.glob("*/motors.yaml"))


def command_line_problem(cfg: VirtualArmCommandConfig) -> str:
    """What is wrong with the robot or role given on the command line ("" when nothing)."""
    from bricobot.emulation.mujoco_arm import ROLES

    if cfg.arm not in known_robots():
        return f"unknown robot {cfg.arm!r}; known robots: {', '.join(known_robots())}"
    if cfg.role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}, got {cfg.role!r}"
    return ""


def run(cfg: VirtualArmCommandConfig) -> int:
    from bricobot.emulation.mujoco_arm import sine_trajectory, start_virtual_arm

    problem = command_line_problem(cfg)
    if problem:
        print(f"bricobot virtual-arm: {problem}", file=sys.stderr)
        return 2
    trajectory = None
    if cfg.role == "leader":
        from bricobot.motors.spec import load_motors_spec, robot_motors_path

        names = [m.name for m in load_motors_spec(robot_motors_path(cfg.arm, "leader")).motors]
        if cfg.trajectory:
            trajectory = load_trajectory(cfg.trajectory, cfg.trajectory_fps, names)
    model_path = None
    if cfg.model:
        from bricobot.cameras.sim import resolve_model_path

        model_path = resolve_model_path(cfg.model)
    arm = start_virtual_arm(
        cfg.arm,
        cfg.role,
        workdir=cfg.output_dir,
        port_link=cfg.port_link or None,
        trajectory=trajectory,
        model_path=model_path,
        say=lambda text: print(text, flush=True),
    )
    if cfg.role == "leader" and not cfg.trajectory:
        arm.arm.trajectory = sine_trajectory(arm.arm.joint_ranges_deg, period_s=cfg.swing_period_s)
    group = "robot" if cfg.role == "follower" else "teleop"
    preset = cfg.arm if cfg.role == "follower" else f"{cfg.arm}_leader"
    print(
        f"virtual {cfg.arm} {cfg.role} ({len(arm.spec.motors)} servos, {arm.spec.bus}) on port: {arm.port}"
    )
    print(f"calibration: {arm.calibration_path}")
    print(
        f"use it with: {group}={preset} {group}.port={arm.port} {group}.calibration_path={arm.calibration_path}"
    )
    print(
        f"to calibrate it as you would a real arm: bricobot calibrate robot={cfg.arm} "
        f"role={cfg.role} port={arm.port} (a scripted person here moves the arm when asked, "
        "and says when to press Enter)"
    )
    print("Ctrl-C to stop.", flush=True)
    try:
        deadline = time.monotonic() + cfg.duration_s if cfg.duration_s > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        arm.stop()
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "virtual-arm",
        VirtualArmCommandConfig,
        run,
        translate_argv(argv),
        "An emulated servo bus on a pseudo-terminal whose joints are a MuJoCo arm.",
    )
