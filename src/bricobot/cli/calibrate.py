"""``bricobot calibrate``: guided calibration of an arm (zero pose, sweep, direction check).

Examples::

    bricobot calibrate robot=so101 port=/dev/ttyACM0               # → calibration/so101_follower.json
    bricobot calibrate robot=so101 role=leader port=/dev/ttyACM1   # → calibration/so101_leader.json
    bricobot calibrate robot=so101 virtual=true            # rehearse on a throwaway emulated bus
    bricobot calibrate compare=[leader.json,follower.json]  # catch an offset between two arms

The default output is where ``robot=<robot>`` (follower) and ``teleop=<robot>_leader`` look for it.
The file records which arm it belongs to (servo ids, models, EEPROM fingerprint, USB serial), so
connecting another arm with it is refused instead of overwriting that arm's servo offsets.
A `bricobot virtual-arm` has a scripted person who moves it when asked, so this command calibrates a
virtual arm exactly as a real one (``port=<the port it prints>``).

Non-interactive: ``answers_file=answers.yaml``. With ``virtual=true`` it scripts a throwaway emulated
bus (for rehearsing and for tests of the checks)::

    joints:                     # per joint: where the shaft sits in the zero pose (raw ticks),
      shoulder_pan: {zero_raw: 1800, sweep_deg: [-100, 100], sign: 1}   # the sweep, the + sign
    sweep_steps: 24

On a real arm it only stands in for the Enter key: ``sweep_s: 15`` (sweep duration).
"""

from __future__ import annotations

import select
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricobot.cli.app import run_command


@dataclass
class CalibrateCommandConfig:
    #: hardware/<robot>/motors.yaml name (so101, koch) or a path to a motors.yaml
    robot: str = "so101"
    #: follower (the arm that moves) or leader (the arm you move by hand)
    role: str = "follower"
    port: str = ""
    #: where to write the calibration JSON; empty: calibration/<robot>_<role>.json, where
    #: robot=<robot> and teleop=<robot>_leader find it
    output: str = ""
    #: calibrate an emulated arm (a scripted hand moves the virtual joints)
    virtual: bool = False
    #: YAML answers for a non-interactive run (see the module help)
    answers_file: str = ""
    #: two calibration files to compare (leader vs follower) instead of calibrating
    compare: list[str] = field(default_factory=list)
    seed: int = 0
    #: how long a reply may take (s); raise it on a busy computer; None: the bus family's default
    reply_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.role not in ("follower", "leader"):
            raise ValueError(f"role must be 'follower' or 'leader', got {self.role!r}")
        if self.reply_timeout_s is not None and not self.reply_timeout_s > 0:
            raise ValueError(f"reply_timeout_s must be > 0, got {self.reply_timeout_s}")


class ConsoleUser:
    def say(self, text: str) -> None:
        print(text)

    def wait(self, step: str, prompt: str) -> None:
        input(prompt + " ")

    def sweep_done(self, elapsed_s: float) -> bool:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            sys.stdin.readline()
        return bool(ready)


class AnswersUser:
    """Stands in for the Enter key on a real arm: each step continues at once; the sweep lasts sweep_s."""

    def __init__(self, sweep_s: float) -> None:
        self.sweep_s = sweep_s

    def say(self, text: str) -> None:
        print(text)

    def wait(self, step: str, prompt: str) -> None:
        print(prompt + " [answers file: continuing]")

    def sweep_done(self, elapsed_s: float) -> bool:
        return elapsed_s >= self.sweep_s


def _load_answers(path: str) -> dict[str, Any]:
    import yaml

    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: answers file must be a mapping (see `bricobot calibrate --help`)"
        )
    return data


def _compare(paths: list[str]) -> int:
    from bricobot.motors.calibration import compare_files, load_calibration

    if len(paths) != 2:
        print(
            "bricobot calibrate: compare needs exactly two files: compare=[a.json,b.json]",
            file=sys.stderr,
        )
        return 2
    problems = compare_files(load_calibration(paths[0]), load_calibration(paths[1]))
    for line in problems:
        print(line)
    print("calibrations agree" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


def _rehearsal_bus(spec: Any, answers: dict[str, Any], seed: int) -> tuple[Any, Any]:
    """``virtual=true``: a throwaway emulated bus and a scripted hand that moves its joints as the
    answers file says (random zero poses by default)."""
    import random

    from bricobot.emulation import VirtualBus, VirtualServo
    from bricobot.emulation.scripted_user import JointScript, ScriptedCalibrationUser

    rng = random.Random(seed)
    servos = [VirtualServo(m.model, m.id, baudrate=spec.baudrate) for m in spec.motors]
    vbus = VirtualBus(servos)
    given = answers.get("joints", {})
    joints = {}
    for m in spec.motors:
        j = given.get(m.name, {})
        lo, hi = m.range_deg
        joints[m.id] = JointScript(
            zero_raw=float(j.get("zero_raw", rng.randint(200, 3900))),
            sweep_deg=tuple(j.get("sweep_deg", (lo * 0.8, hi * 0.8))),
            sign=int(j.get("sign", m.direction)),
        )
    return vbus, ScriptedCalibrationUser(vbus, joints, int(answers.get("sweep_steps", 24)))


def run(cfg: CalibrateCommandConfig) -> int:
    import contextlib

    from bricobot.errors import BricobotError
    from bricobot.motors.calibration import calibration_summary, run_calibration, save_calibration
    from bricobot.motors.identity import identity_summary, read_identity
    from bricobot.motors.spec import load_motors_spec, make_bus, robot_motors_path

    if cfg.compare:
        return _compare(list(cfg.compare))
    named = "/" not in cfg.robot and not cfg.robot.endswith((".yaml", ".yml"))
    spec = load_motors_spec(robot_motors_path(cfg.robot, cfg.role) if named else cfg.robot)
    answers = _load_answers(cfg.answers_file)
    default_stem = f"{cfg.robot}_{cfg.role}" if named else spec.robot_type
    output = Path(cfg.output or f"calibration/{default_stem}.json")
    with contextlib.ExitStack() as stack:
        if cfg.virtual:
            vbus, user = _rehearsal_bus(spec, answers, cfg.seed)
            stack.enter_context(vbus)
            port = vbus.port
        else:
            if not cfg.port:
                print("bricobot calibrate: give the port, e.g. port=/dev/ttyACM0", file=sys.stderr)
                return 2
            port = cfg.port
            user = AnswersUser(float(answers.get("sweep_s", 15))) if answers else ConsoleUser()
        bus = make_bus(
            spec,
            port,
            name=spec.robot_type,
            timeout_s=cfg.reply_timeout_s,
            timeout_setting="reply_timeout_s",
        )
        try:
            bus.connect()
            stack.callback(bus.close)
            result = run_calibration(bus, spec, user)
            identity = read_identity(bus, result.calibration)
        except BricobotError as exc:
            print(f"bricobot calibrate: {exc}", file=sys.stderr)
            return 1
    for note in result.notes:
        print(f"note: {note}")
    for row in calibration_summary(result.calibration):
        print(row)
    save_calibration(output, result.calibration, spec.robot_type, identity=identity)
    print(f"saved {output} ({identity_summary(identity)})")
    if not cfg.output and named:
        group = "robot" if cfg.role == "follower" else "teleop"
        preset = cfg.robot if cfg.role == "follower" else f"{cfg.robot}_leader"
        print(f"{group}={preset} finds it there (run from this folder)")
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "calibrate",
        CalibrateCommandConfig,
        run,
        argv,
        "Guided calibration of an arm's zero pose and ranges, with checks.",
    )
