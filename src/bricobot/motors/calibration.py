"""Calibration: raw servo ticks ↔ degrees from the model's zero pose (gripper ↔ percent open).

The mapping of one motor, after its homing offset is written to the servo::

    deg = direction · (Present_Position − zero_ticks) · 360 / resolution

``zero_ticks`` is what Present_Position reads in the zero pose; the homing offset is chosen so that
this is mid-range (2048 of 4096), which keeps every plausible joint range away from the encoder's
0/4095 seam. The gripper maps ``closed_deg … open_deg`` to 0 … 100 %.

Feetech homing offsets are sign-magnitude with the sign at bit 11, so ``|offset| ≤ 2047``; when the
ideal offset is ±2048 the nearest legal one is used and ``zero_ticks`` records the actual reading
(one tick off mid-range, still exact). Models without a Homing_Offset register (SCS) keep offset 0
and the software mapping alone does the job.

:func:`run_calibration` is the guided procedure; the user is anything with the
:class:`CalibrationUser` methods (a console, an answers file, or a scripted hand moving emulated
joints in tests).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bricobot.errors import BricobotError
from bricobot.motors.tables import Protocol as BusProtocol
from bricobot.motors.tables import model_spec

if TYPE_CHECKING:
    from bricobot.motors.bus import MotorBus
    from bricobot.motors.spec import RobotMotorsSpec

FORMAT = "bricobot.calibration"
FORMAT_VERSION = 1
FEETECH_MAX_OFFSET = 2047
MAPPING = "deg = direction * (present_ticks - zero_ticks) * 360 / resolution"
GRIPPER_MAPPING = "percent_open = 100 * (deg - closed_deg) / (open_deg - closed_deg)"


class CalibrationError(BricobotError):
    """A calibration step or file failed a check; the message names the joint and the fix."""


@dataclass
class MotorCalibration:
    """Calibration of one motor: what is written to the servo and the ticks ↔ degrees mapping."""

    name: str
    id: int
    model: str
    homing_offset: int  # written to Homing_Offset (0 where the model has none)
    zero_ticks: int  # Present_Position in the zero pose, after the offset
    range_min_ticks: int  # recorded range (Present_Position), written as position limits
    range_max_ticks: int
    direction: int = 1  # +1: servo ticks grow with the model's joint angle
    drive_mode: int = 0  # Dynamixel Drive_Mode bit 0 (reverse), written to the servo
    resolution: int = 4096
    gripper: bool = False
    closed_deg: float = 0.0  # gripper only: degrees from zero pose at 0 % / 100 % open
    open_deg: float = 100.0

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(
                f"motor {self.name!r}: direction must be 1 or -1, got {self.direction}"
            )
        if self.range_min_ticks > self.range_max_ticks:
            raise ValueError(f"motor {self.name!r}: range_min_ticks > range_max_ticks")
        if self.gripper and self.closed_deg == self.open_deg:
            raise ValueError(f"motor {self.name!r}: gripper closed_deg equals open_deg")

    def ticks_to_deg(self, ticks: float) -> float:
        return self.direction * (ticks - self.zero_ticks) * 360.0 / self.resolution

    def deg_to_ticks(self, deg: float) -> int:
        return round(self.zero_ticks + self.direction * deg * self.resolution / 360.0)

    def ticks_to_value(self, ticks: float) -> float:
        """Degrees, or percent open for the gripper."""
        deg = self.ticks_to_deg(ticks)
        if not self.gripper:
            return deg
        return 100.0 * (deg - self.closed_deg) / (self.open_deg - self.closed_deg)

    def value_to_ticks(self, value: float) -> int:
        """Inverse of :meth:`ticks_to_value`, clamped to the recorded range."""
        deg = value
        if self.gripper:
            deg = self.closed_deg + value / 100.0 * (self.open_deg - self.closed_deg)
        ticks = self.deg_to_ticks(deg)
        return min(max(ticks, self.range_min_ticks), self.range_max_ticks)

    @property
    def range_deg(self) -> tuple[float, float]:
        a, b = self.ticks_to_deg(self.range_min_ticks), self.ticks_to_deg(self.range_max_ticks)
        return (min(a, b), max(a, b))


# --- files ----------------------------------------------------------------------------------


def save_calibration(
    path: str | Path,
    calibration: dict[str, MotorCalibration],
    robot_type: str = "",
    identity: dict[str, Any] | None = None,
) -> Path:
    """Write a readable, versioned JSON file (raw ticks and the mapping); returns the path.

    ``identity`` (from :func:`bricobot.motors.identity.read_identity`) records which arm the file
    belongs to, so writing it to another arm's servos can be refused."""
    path = Path(path)
    motors = {}
    for name, cal in calibration.items():
        entry = asdict(cal)
        entry.pop("name")
        lo, hi = cal.range_deg
        entry["range_deg"] = [round(lo, 2), round(hi, 2)]  # for readers; ignored on load
        motors[name] = entry
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "robot_type": robot_type,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mapping": MAPPING,
        "gripper_mapping": GRIPPER_MAPPING,
        "motors": motors,
    }
    if identity is not None:
        doc["identity"] = identity
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_calibration(path: str | Path) -> dict[str, MotorCalibration]:
    """Read a file written by :func:`save_calibration`; errors name the file and the fix."""
    path = Path(path)
    doc = _read_document(path)
    known = {f.name for f in fields(MotorCalibration)}
    out = {}
    for name, entry in doc.get("motors", {}).items():
        values = {k: v for k, v in entry.items() if k in known}
        try:
            out[name] = MotorCalibration(name=name, **values)
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: motor {name!r}: {exc}") from None
    return out


def load_identity(path: str | Path) -> dict[str, Any] | None:
    """The ``identity`` a calibration file records (None for files made before it existed)."""
    identity = _read_document(Path(path)).get("identity")
    return identity if isinstance(identity, dict) else None


def _read_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CalibrationError(
            f"calibration file {path} not found; run `bricobot calibrate` to create it"
        )
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path} is not valid JSON ({exc}); recalibrate or fix it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CalibrationError(f"{path} is not a bricobot calibration file (no format {FORMAT!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise CalibrationError(
            f"{path} has calibration format version {doc.get('version')}; this bricobot reads "
            f"version {FORMAT_VERSION}. Recalibrate with `bricobot calibrate`."
        )
    return doc


# --- offsets and checks ---------------------------------------------------------------------


def homing_offset_for(model: str, raw_ticks: int, drive_mode: int = 0) -> int:
    """Homing offset that makes the zero pose read mid-range, within the model's legal range.

    ``raw_ticks`` is Present_Position read with Homing_Offset = 0 (and the given drive mode).
    """
    spec = model_spec(model)
    half = spec.resolution // 2
    if "Homing_Offset" not in spec.registers:
        return 0
    if spec.protocol is BusProtocol.DYNAMIXEL:
        return half - raw_ticks  # Present = raw + offset
    offset = raw_ticks - half  # Feetech: Present = raw − offset
    return max(-FEETECH_MAX_OFFSET, min(FEETECH_MAX_OFFSET, offset))


@dataclass
class SweepRecord:
    """Range seen for one joint during a sweep; ``wrapped`` when it crossed the 0/4095 seam."""

    min_ticks: int
    max_ticks: int
    wrapped: bool = False
    last: int | None = None

    def add(self, ticks: int, resolution: int) -> None:
        if self.last is not None and abs(ticks - self.last) > resolution // 2:
            self.wrapped = True
        self.last = ticks
        self.min_ticks = min(self.min_ticks, ticks)
        self.max_ticks = max(self.max_ticks, ticks)


def check_range(
    name: str,
    record: SweepRecord,
    cal: MotorCalibration,
    expected_deg: tuple[float, float],
    margin_deg: float = 30.0,
    min_fraction: float = 0.5,
) -> None:
    """Raise CalibrationError when a sweep wrapped or its range is implausible for the joint."""
    res = cal.resolution
    if record.wrapped or record.min_ticks <= 0 or record.max_ticks >= res - 1:
        raise CalibrationError(
            f"joint {name!r} (id {cal.id}): the sweep crossed the encoder's 0/{res - 1} seam "
            f"(readings {record.min_ticks}…{record.max_ticks}). The zero pose was probably wrong: "
            f"place the arm exactly in the zero pose (hardware/<robot>/README.md) and recalibrate; "
            f"if it persists, the servo horn is mounted a half turn off."
        )
    lo, hi = cal.range_deg
    exp_lo, exp_hi = expected_deg
    span, expected_span = hi - lo, exp_hi - exp_lo
    if lo < exp_lo - margin_deg or hi > exp_hi + margin_deg:
        raise CalibrationError(
            f"joint {name!r} (id {cal.id}): recorded range [{lo:.0f}°, {hi:.0f}°] goes beyond the "
            f"plausible [{exp_lo:.0f}°, {exp_hi:.0f}°] (±{margin_deg:.0f}°). Check the zero pose and "
            f"the direction of this joint, then recalibrate."
        )
    if span < min_fraction * expected_span:
        raise CalibrationError(
            f"joint {name!r} (id {cal.id}): recorded range is only {span:.0f}° of the expected "
            f"{expected_span:.0f}°. Move this joint through its whole range during the sweep."
        )


# --- the guided procedure -------------------------------------------------------------------


class CalibrationUser(Protocol):
    """The person (or script) doing a calibration."""

    def say(self, text: str) -> None: ...

    def wait(self, step: str, prompt: str) -> None:
        """Block until the user has done ``step`` (``"zero_pose"``, ``"direction"``)."""

    def sweep_done(self, elapsed_s: float) -> bool:
        """Polled during the sweep: True when the user says the sweep is finished."""


@dataclass
class CalibrationResult:
    calibration: dict[str, MotorCalibration]
    notes: list[str]


def run_calibration(
    bus: MotorBus,
    spec: RobotMotorsSpec,
    user: CalibrationUser,
    sample_period_s: float = 0.01,
    min_direction_deg: float = 5.0,
    on_sample: Callable[[dict[str, int]], None] | None = None,
) -> CalibrationResult:
    """Guided calibration of a connected bus: zero pose → sweep → direction check → write → verify.

    Raises CalibrationError naming the joint and the fix when a check fails; the final offsets,
    directions and limits are written only when every check passes (the old ones are cleared
    first to read raw ticks; every EEPROM write is journaled, see motors/eeprom_log.py).
    """
    names = [m.name for m in spec.motors]
    bus.disable_torque(names)
    user.say("Torque is off: the arm is limp. Hold it so it does not fall.")
    offsets, zero = _zero_pose(bus, spec, user, names)
    records = _sweep(bus, user, names, zero, sample_period_s, on_sample)
    calibration, notes = _direction_check(
        bus, spec, user, offsets, zero, records, min_direction_deg
    )
    apply_calibration(bus, calibration)
    user.say("Calibration written to the motors and verified.")
    return CalibrationResult(calibration, notes)


def _zero_pose(
    bus: MotorBus, spec: RobotMotorsSpec, user: CalibrationUser, names: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Step 1: clear offsets (raw ticks), read the zero pose, write the offsets that make it
    mid-range; returns ``(offsets, Present_Position in the zero pose)``."""
    for name in names:
        regs = bus.motors[name].spec.registers
        if "Homing_Offset" in regs:
            bus.write("Homing_Offset", name, 0)
        if "Drive_Mode" in regs:
            bus.write("Drive_Mode", name, 0)
        if "Min_Position_Limit" in regs:  # wide limits while calibrating
            bus.write("Min_Position_Limit", name, 0)
            bus.write("Max_Position_Limit", name, bus.motors[name].spec.resolution - 1)
    user.wait(
        "zero_pose",
        f"Place the arm in the zero pose of {spec.robot_type} (see hardware/<robot>/README.md), "
        f"then press Enter.",
    )
    raw = bus.sync_read("Present_Position", names)
    offsets = {n: homing_offset_for(bus.motors[n].model, raw[n]) for n in names}
    for name in names:
        if "Homing_Offset" in bus.motors[name].spec.registers:
            bus.write("Homing_Offset", name, offsets[name])
    return offsets, bus.sync_read("Present_Position", names)


def _sweep(
    bus: MotorBus,
    user: CalibrationUser,
    names: list[str],
    zero: dict[str, int],
    sample_period_s: float,
    on_sample: Callable[[dict[str, int]], None] | None,
) -> dict[str, SweepRecord]:
    """Step 2: sample every joint while the person sweeps it through its range."""
    user.wait(
        "sweep_start", "Move every joint slowly through its full range; press Enter when done."
    )
    records = {n: SweepRecord(zero[n], zero[n], last=zero[n]) for n in names}
    start = time.monotonic()
    while True:
        sample = bus.sync_read("Present_Position", names)
        if on_sample is not None:
            on_sample(sample)
        for n in names:
            records[n].add(sample[n], bus.motors[n].spec.resolution)
        if user.sweep_done(time.monotonic() - start):
            return records
        time.sleep(sample_period_s)


def _direction_check(
    bus: MotorBus,
    spec: RobotMotorsSpec,
    user: CalibrationUser,
    offsets: dict[str, int],
    zero: dict[str, int],
    records: dict[str, SweepRecord],
    min_direction_deg: float,
) -> tuple[dict[str, MotorCalibration], list[str]]:
    """Step 3: each joint moved in its + direction gives its sign; builds and checks the result."""
    user.wait(
        "direction",
        "Put the arm back in the zero pose, then move EVERY joint about 30° in its + direction "
        "(gripper: open it); press Enter.",
    )
    moved = bus.sync_read("Present_Position", list(records))
    calibration: dict[str, MotorCalibration] = {}
    notes: list[str] = []
    for motor in spec.motors:
        n = motor.name
        resolution = bus.motors[n].spec.resolution
        delta_deg = (moved[n] - zero[n]) * 360.0 / resolution
        if abs(delta_deg) < min_direction_deg:
            raise CalibrationError(
                f"joint {n!r} (id {motor.id}) moved {delta_deg:+.1f}° in the direction check; "
                f"move it at least {min_direction_deg:.0f}° in its + direction and retry."
            )
        direction = 1 if delta_deg > 0 else -1
        if direction != motor.direction:
            notes.append(
                f"joint {n!r}: + moves the servo {'up' if direction > 0 else 'down'} in ticks, "
                f"unlike motors.yaml (direction {motor.direction}); the servo is probably "
                f"mounted reversed. Using the measured direction."
            )
        is_gripper = n == spec.gripper_name
        cal = MotorCalibration(
            name=n,
            id=motor.id,
            model=motor.model,
            homing_offset=offsets[n],
            zero_ticks=zero[n],
            range_min_ticks=records[n].min_ticks,
            range_max_ticks=records[n].max_ticks,
            direction=direction,
            resolution=resolution,
            gripper=is_gripper,
            closed_deg=spec.gripper_closed_deg if is_gripper else 0.0,
            open_deg=spec.gripper_open_deg if is_gripper else 100.0,
        )
        check_range(n, records[n], cal, motor.range_deg)
        calibration[n] = cal
    return calibration, notes


def calibration_registers(
    bus: MotorBus, calibration: dict[str, MotorCalibration]
) -> dict[tuple[str, str], int]:
    """``(motor, register) → value`` a calibration puts in servo EEPROM, for the registers each
    motor's model has: homing offset, drive mode, position limits."""
    wanted: dict[tuple[str, str], int] = {}
    for n, cal in calibration.items():
        regs = bus.motors[n].spec.registers
        if "Homing_Offset" in regs:
            wanted[(n, "Homing_Offset")] = cal.homing_offset
        if "Drive_Mode" in regs:
            wanted[(n, "Drive_Mode")] = cal.drive_mode
        if "Min_Position_Limit" in regs:
            wanted[(n, "Min_Position_Limit")] = cal.range_min_ticks
            wanted[(n, "Max_Position_Limit")] = cal.range_max_ticks
    return wanted


def apply_calibration(bus: MotorBus, calibration: dict[str, MotorCalibration]) -> None:
    """Write offsets, drive modes and position limits (torque off), read back, raise on mismatch."""
    names = [n for n in calibration if n in bus.motors]
    missing = [n for n in bus.motors if n not in calibration]
    if missing:
        raise CalibrationError(
            f"calibration has no entry for motor(s) {', '.join(missing)} of {bus.name}; "
            f"recalibrate this arm with `bricobot calibrate`"
        )
    with bus.torque_disabled(names):
        for n in names:
            cal = calibration[n]
            if bus.motors[n].id != cal.id or bus.motors[n].model != cal.model:
                raise CalibrationError(
                    f"calibration of {n!r} is for id {cal.id} ({cal.model}) but the bus has "
                    f"{bus.motors[n].label()} ({bus.motors[n].model}); recalibrate"
                )
        wanted = calibration_registers(bus, {n: calibration[n] for n in names})
        for (n, reg), value in wanted.items():
            bus.write(reg, n, value)
        wrong = []
        for (n, reg), value in wanted.items():
            got = bus.read(reg, n)
            if got != value:
                wrong.append(f"{n} (id {calibration[n].id}) {reg}: wrote {value}, read {got}")
        if wrong:
            raise CalibrationError(
                f"{bus.name} on {bus.port}: calibration did not stick: {'; '.join(wrong)}. "
                f"Check the power supply and retry; EEPROM writes need the servo powered."
            )
    bus.calibration = dict(calibration)


# --- leader vs follower ---------------------------------------------------------------------


@dataclass
class JointComparison:
    name: str
    difference_deg: float
    ok: bool


def compare_in_pose(
    a: dict[str, MotorCalibration],
    ticks_a: dict[str, int],
    b: dict[str, MotorCalibration],
    ticks_b: dict[str, int],
    tolerance_deg: float = 5.0,
) -> list[JointComparison]:
    """Two arms held in the same pose should read the same angles; flag joints that do not."""
    out = []
    for name in a:
        if name not in b or name not in ticks_a or name not in ticks_b:
            continue
        diff = a[name].ticks_to_value(ticks_a[name]) - b[name].ticks_to_value(ticks_b[name])
        out.append(JointComparison(name, diff, abs(diff) <= tolerance_deg))
    return out


def compare_files(
    a: dict[str, MotorCalibration], b: dict[str, MotorCalibration], tolerance_deg: float = 10.0
) -> list[str]:
    """Problems visible from two calibration files alone (e.g. leader vs follower).

    Both were taken from the same zero pose, so the recorded ranges should line up; a range shifted
    as a whole on one arm means one arm's zero pose was off by that much.
    """
    problems = []
    for name in a:
        if name not in b:
            problems.append(f"{name}: only in the first file")
            continue
        (alo, ahi), (blo, bhi) = a[name].range_deg, b[name].range_deg
        shift = ((alo - blo) + (ahi - bhi)) / 2.0
        if abs(shift) > tolerance_deg and not a[name].gripper:
            problems.append(
                f"{name}: ranges [{alo:.0f}°, {ahi:.0f}°] vs [{blo:.0f}°, {bhi:.0f}°] are shifted by "
                f"{shift:+.0f}°: one arm's zero pose was probably off; recalibrate it"
            )
    for name in b:
        if name not in a:
            problems.append(f"{name}: only in the second file")
    return problems


def calibration_summary(calibration: dict[str, MotorCalibration]) -> list[dict[str, Any]]:
    """Rows for printing: name, id, offset, zero, range in ticks and degrees, direction."""
    return [
        {
            "name": n,
            "id": c.id,
            "offset": c.homing_offset,
            "zero": c.zero_ticks,
            "range_ticks": [c.range_min_ticks, c.range_max_ticks],
            "range_deg": [round(x, 1) for x in c.range_deg],
            "direction": c.direction,
        }
        for n, c in calibration.items()
    ]
