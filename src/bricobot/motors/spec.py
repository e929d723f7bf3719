"""Loader for ``hardware/<robot>/motors.yaml``: which servos an arm has, and their sanity bands.

Format::

    robot_type: so101_follower
    bus: feetech               # or dynamixel
    baudrate: 1000000
    motors:
      - {name: shoulder_pan, id: 1, model: sts3215, direction: 1, range_deg: [-110, 110]}
      ...
    gripper: {closed_deg: 0, open_deg: 100}   # optional; the gripper is the motor named "gripper"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bricobot.motors.bus import Motor
from bricobot.motors.tables import MODELS

BUS_FAMILIES = ("feetech", "dynamixel")
BAUD_KEYS = ("baudrate", "default_baudrate", "baud_rate", "default_baud", "baud")


@dataclass(frozen=True)
class MotorSpec:
    """One servo of an arm: bus identity plus the expected direction and joint range (degrees)."""

    name: str
    id: int
    model: str
    direction: int = 1
    range_deg: tuple[float, float] = (-180.0, 180.0)

    def motor(self) -> Motor:
        return Motor(self.name, self.id, self.model)


@dataclass(frozen=True)
class RobotMotorsSpec:
    robot_type: str
    bus: str
    baudrate: int
    motors: list[MotorSpec]
    gripper_name: str | None = None
    gripper_closed_deg: float = 0.0
    gripper_open_deg: float = 100.0
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def bus_motors(self) -> list[Motor]:
        return [m.motor() for m in self.motors]

    def by_name(self, name: str) -> MotorSpec:
        for m in self.motors:
            if m.name == name:
                return m
        raise KeyError(f"{self.source}: no motor {name!r}")


def robot_motors_path(robot: str, role: str = "follower") -> Path:
    """``hardware/<robot>/motors.yaml`` shipped with the package; for a leader its
    ``motors_leader.yaml`` when the robot has one (Koch), else the same file (SO-101)."""
    folder = Path(str(resources.files("bricobot.hardware"))) / robot
    if role == "leader" and (folder / "motors_leader.yaml").is_file():
        return folder / "motors_leader.yaml"
    return folder / "motors.yaml"


def load_motors_spec(path_or_robot: str | Path) -> RobotMotorsSpec:
    """Load a motors.yaml by path, or by robot folder name (``"so101"``, ``"koch"``).

    Every problem raises ValueError naming the file, the entry and the expected form.
    """
    path = Path(path_or_robot)
    if not path.suffix:
        path = robot_motors_path(str(path_or_robot))
    if not path.is_file():
        raise FileNotFoundError(
            f"motor spec {path} not found; give a path to a motors.yaml or a robot folder name "
            f"under hardware/ (e.g. so101, koch)"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with robot_type, bus, baudrate, motors")

    def need(key: str) -> Any:
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
        return data[key]

    bus = str(need("bus"))
    if bus not in BUS_FAMILIES:
        raise ValueError(f"{path}: bus {bus!r} must be one of {', '.join(BUS_FAMILIES)}")
    baud_key = next((k for k in BAUD_KEYS if k in data), None)
    baudrate = int(data[baud_key]) if baud_key else 1_000_000
    motors = [
        _motor_entry(entry, f"{path}: motors[{i}]", bus) for i, entry in enumerate(need("motors"))
    ]
    names = [m.name for m in motors]
    ids = [m.id for m in motors]
    for label, values in (("name", names), ("id", [str(i) for i in ids])):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"{path}: duplicate motor {label}(s): {', '.join(dupes)}")
    gripper = data.get("gripper") or {}
    gripper_name = "gripper" if "gripper" in names else None
    if gripper and "name" in gripper:
        gripper_name = str(gripper["name"])
    return RobotMotorsSpec(
        robot_type=str(data.get("robot_type", path.parent.name)),
        bus=bus,
        baudrate=baudrate,
        motors=motors,
        gripper_name=gripper_name,
        gripper_closed_deg=float(gripper.get("closed_deg", 0.0)),
        gripper_open_deg=float(gripper.get("open_deg", 100.0)),
        source=str(path),
    )


def _motor_entry(entry: Any, where: str, bus: str) -> MotorSpec:
    """One ``motors:`` entry of a motors.yaml, checked; errors name ``where`` and the fix."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping with name, id, model")
    for key in ("name", "id", "model"):
        if key not in entry:
            raise ValueError(f"{where}: missing {key!r}")
    if entry["model"] not in MODELS:
        raise ValueError(
            f"{where}: unknown model {entry['model']!r}; supported: {', '.join(MODELS)}"
        )
    if not MODELS[entry["model"]].protocol.value.startswith(bus):
        raise ValueError(f"{where}: model {entry['model']} is not a {bus} servo")
    direction = int(entry.get("direction", 1))
    if direction not in (1, -1):
        raise ValueError(f"{where}: direction must be 1 or -1, got {direction}")
    lo, hi = (float(v) for v in entry.get("range_deg", (-180.0, 180.0)))
    if not lo < hi:
        raise ValueError(f"{where}: range_deg [{lo}, {hi}] must be increasing")
    return MotorSpec(str(entry["name"]), int(entry["id"]), entry["model"], direction, (lo, hi))


def make_bus(spec: RobotMotorsSpec, port: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    """The right MotorBus for ``spec`` on ``port`` (kwargs go to the bus constructor)."""
    if spec.bus == "feetech":
        from bricobot.motors.feetech import FeetechBus

        return FeetechBus(port, spec.bus_motors(), spec.baudrate, **kwargs)
    from bricobot.motors.dynamixel import DynamixelBus

    return DynamixelBus(port, spec.bus_motors(), spec.baudrate, **kwargs)
