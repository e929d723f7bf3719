"""``MotorBus``: read and write servo registers by name on one serial port, with retries.

The base class owns everything that does not depend on the wire protocol: motor lookup by name,
register checks against each motor's control table, value encoding (sign-magnitude or two's
complement), bounded retries that re-ask only the motors that did not answer, connect-time checks
(every expected id answers with the expected model number), torque handling and health reads.
Subclasses (``feetech.py``, ``dynamixel.py``) implement five raw transactions on bytes.

Positions in degrees: give the bus a calibration (``bus.calibration = {name: MotorCalibration}``)
and use :meth:`MotorBus.read_positions` / :meth:`MotorBus.write_goals`.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.motors.eeprom_log import new_session_id, record_write
from bricobot.motors.errors import (
    PERMISSION_FIX,
    BaudRateError,
    CommunicationError,
    DuplicateIdError,
    LateReplyError,
    ModelMismatchError,
    MotorNotFoundError,
    NoReplyError,
    PortBusyError,
    PortNotFoundError,
    PortPermissionError,
    RegisterError,
    ServoError,
    late_reply_fix,
    no_reply_fix,
)
from bricobot.motors.tables import ModelSpec, Register, model_spec

if TYPE_CHECKING:
    import serial

    from bricobot.motors.calibration import MotorCalibration


@dataclass(frozen=True)
class Motor:
    """One servo on a bus: its joint name, bus id and model (a key of ``tables.MODELS``)."""

    name: str
    id: int
    model: str

    def __post_init__(self) -> None:
        if not 0 <= self.id <= 252:
            raise ValueError(f"motor {self.name!r}: id {self.id} outside 0..252")
        model_spec(self.model)  # raises with the list of supported models

    @property
    def spec(self) -> ModelSpec:
        return model_spec(self.model)

    def label(self) -> str:
        return f"'{self.name}' (id {self.id})"


@dataclass
class PingReply:
    """What a servo said to a ping: its model number (and the model, when known)."""

    id: int
    model_number: int
    firmware: int | None = None


@dataclass
class MotorHealth:
    """One servo's health: temperature (°C), supply voltage (V), load (% of max), plain error messages."""

    temperature_c: float
    voltage_v: float
    load_pct: float
    errors: list[str] = field(default_factory=list)


class NoReply(Exception):
    """Raised by a raw transaction when a servo did not answer (or its reply was corrupted)."""

    def __init__(self, corrupted: bool = False) -> None:
        super().__init__("corrupted reply" if corrupted else "no reply")
        self.corrupted = corrupted


class MotorBus(abc.ABC):
    """A serial port with servos on it. Use as a context manager, or call connect()/disconnect().

    Args:
        port: serial device, e.g. ``/dev/ttyACM0`` (prefer a stable ``/dev/serial/by-id/...`` path).
        motors: the servos expected on the bus.
        baudrate: bus speed; ``None`` means the family's default for arms.
        timeout_s: how long the first attempt waits for a reply beyond its transmission time
            (``None``: the family's default). Short on purpose: a lost reply costs this much.
            Each retry doubles it, up to ``MAX_BACKOFF`` times (:meth:`attempt_timeout_s`), so a
            host too busy to read replies in time still gets them: with the defaults a read
            gives up after 110 ms (Feetech) or 220 ms (Dynamixel) of silence, and names the
            silent motors half that time later (see below).
        retries: extra attempts for a read that got no (or a corrupted) reply. On by default: a glitched
            status packet once in a while is normal on these buses.
        name: what the error messages call this bus (e.g. ``"follower arm"``).
        timeout_setting: the config key that sets ``timeout_s`` (e.g. ``"robot.reply_timeout_s"``),
            named when replies come late; empty: the follower's and the leader's keys are named.

    When a read fails for good, the bus listens a little longer (:meth:`late_listen_s`: half the
    time the attempts took, at least two ``timeout_s``) to tell the two causes apart: no reply at
    all (:class:`NoReplyError`: cable, power, id, baud rate) or replies past the budget
    (:class:`LateReplyError`: a busy host or a USB latency timer, fixed on the computer).
    """

    #: Cap of the per-retry doubling of the reply budget (4: 10, 20, 40, 40 ms for Feetech).
    MAX_BACKOFF = 4
    #: After the last attempt, listen for late replies (error path only) this fraction of the
    #: time the attempts took, and at least ``LATE_LISTEN_MIN`` × ``timeout_s``.
    LATE_LISTEN_RATIO = 0.5
    LATE_LISTEN_MIN = 2.0

    #: ``"feetech"`` or ``"dynamixel"``: which model numbers and baud codes apply.
    family: str = ""
    default_baudrate: int = 1_000_000
    #: First-attempt reply budget beyond the wire time. FTDI adapters (U2D2) hold replies up to
    #: 16 ms unless their latency timer is 1 ms. Measured on 2 loaded cores (two busy loops):
    #: emulated 6-servo sync reads take ≤ 10 ms, the MuJoCo virtual arm ≤ 48 ms; the doubling
    #: retries (20, 40, 80, 80 ms) cover both.
    default_timeout_s: float = 0.02

    def __init__(
        self,
        port: str,
        motors: Iterable[Motor],
        baudrate: int | None = None,
        timeout_s: float | None = None,
        retries: int = 3,
        name: str = "bus",
        timeout_setting: str = "",
    ) -> None:
        self.port = port
        self._write_plans: dict[tuple[str, tuple[str, ...]], tuple[list[Motor], Register]] = {}
        by_name: dict[str, Motor] = {}
        for motor in motors:
            if motor.name in by_name:
                raise ValueError(f"{name}: two motors are called {motor.name!r}; names must differ")
            by_name[motor.name] = motor
        self.motors = by_name
        self._check_config_ids()
        self.baudrate = baudrate or self.default_baudrate
        timeout_s = self.default_timeout_s if timeout_s is None else timeout_s
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"retries must be ≥ 0, got {retries}")
        self.timeout_s = timeout_s
        self.retries = retries
        self.name = name
        self.timeout_setting = timeout_setting
        #: Reply budget of the attempt in progress (s); the drivers wait this long.
        self.reply_budget_s = timeout_s
        self.calibration: dict[str, MotorCalibration] = {}
        #: Counters a caller can log: transactions retried, packets dropped as corrupted, attempts
        #: that timed out, and replies that arrived after their attempt had given up ("late").
        self.stats = {"retries": 0, "corrupted": 0, "timeouts": 0, "late": 0}
        #: Latest hardware alerts per motor name, from the error byte of its status packets.
        self.alerts: dict[str, list[str]] = {}
        self._connected = False
        #: Log every EEPROM write with its old value (see motors/eeprom_log.py); one session id
        #: per bus groups the writes an undo reverts.
        self.log_eeprom_writes = True
        self.session_id = new_session_id()

    @property
    def motors(self) -> dict[str, Motor]:
        """The expected motors by name (replace the whole dict to change them)."""
        return self._motors

    @motors.setter
    def motors(self, motors: dict[str, Motor]) -> None:
        self._motors = motors
        self._write_plans.clear()

    # --- raw transactions, implemented per protocol ------------------------------------------

    @abc.abstractmethod
    def _open(self) -> None:
        """Open the port at ``self.baudrate``; raise OSError / serial exceptions as they come."""

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _set_baudrate(self, baudrate: int) -> None: ...

    @abc.abstractmethod
    def broadcast_ping(self, wait_s: float = 0.02) -> tuple[dict[int, int], int]:
        """Ping every id at once: ``({id: model number}, number of garbled replies)``."""

    @abc.abstractmethod
    def _ping(self, servo_id: int) -> int:
        """Model number of ``servo_id``; raises NoReply."""

    @abc.abstractmethod
    def _read(self, servo_id: int, address: int, size: int) -> tuple[bytes, int]:
        """``(data, status error byte)``; raises NoReply."""

    @abc.abstractmethod
    def _write(self, servo_id: int, address: int, data: bytes) -> int:
        """Write and return the status error byte; raises NoReply."""

    @abc.abstractmethod
    def _sync_read(
        self, ids: list[int], address: int, size: int
    ) -> tuple[dict[int, tuple[bytes, int]], int]:
        """``({id: (data, error)} for the ids that answered, number of corrupted replies)``."""

    @abc.abstractmethod
    def _sync_write(self, address: int, size: int, data_by_id: dict[int, bytes]) -> None: ...

    def _late_replies(self, ids: list[int], wait_s: float) -> dict[int, float]:
        """Listen up to ``wait_s`` for replies of ``ids`` that arrive after the last attempt gave
        up: ``{id: seconds from that attempt's request to the reply}``. A driver that cannot tell
        returns ``{}`` (every failure then reads as no reply)."""
        return {}

    def _set_reply_budget(self, budget_s: float) -> None:
        """Wait ``budget_s`` beyond the wire time for the replies of the next transactions."""
        self.reply_budget_s = budget_s

    def attempt_timeout_s(self, attempt: int) -> float:
        """Reply budget of attempt ``attempt`` (0 = first): ``timeout_s`` doubled per retry, at most
        ``MAX_BACKOFF`` × ``timeout_s``. Short first (a lost packet costs little), longer after."""
        return self.timeout_s * min(2**attempt, self.MAX_BACKOFF)

    def _budget_ms(self, attempts: int) -> str:
        """``"10 + 20 + 40 ms"``: the budgets of ``attempts`` attempts, for messages."""
        return " + ".join(f"{self.attempt_timeout_s(a) * 1e3:g}" for a in range(attempts)) + " ms"

    def _reply_failure(
        self,
        what: str,
        motors: list[Motor],
        attempts: int,
        late_s: dict[int, float],
        corrupted: int = 0,
    ) -> CommunicationError:
        """The error after ``attempts`` unanswered attempts: late replies, none at all, or (with
        ``corrupted`` replies dropped on the way) no valid one."""
        failed = {m.name: m.id for m in motors}
        budget = f"{attempts} attempt(s) of {self._budget_ms(attempts)}"
        late = [m for m in motors if m.id in late_s]
        if late:
            worst_s = max(late_s.values())
            who = ", ".join(f"{m.label()} after {late_s[m.id] * 1e3:.0f} ms" for m in late)
            return LateReplyError(
                f"{self.name} on {self.port}: late replies to {what}: {who}, past the reply "
                f"budget ({budget}); "
                + late_reply_fix(self.port, self.timeout_s, worst_s, self.timeout_setting),
                self.port,
                failed,
                {m.name: late_s[m.id] for m in late},
            )
        names = ", ".join(m.label() for m in motors)
        fix = no_reply_fix(self.port, [m.id for m in motors], self.baudrate) + "".join(
            f" Last alerts of {m.name}: {'; '.join(self.alerts[m.name])}."
            for m in motors
            if m.name in self.alerts
        )
        if corrupted:
            return CommunicationError(
                f"{self.name} on {self.port}: no valid reply from {names} to {what} after "
                f"{budget}; {corrupted} corrupted replies were dropped (electrical noise, or two "
                f"motors sharing an id). Fix: {fix}",
                self.port,
                failed,
            )
        return NoReplyError(
            f"{self.name} on {self.port}: no reply at all from {names} to {what} after {budget}, "
            f"not even a late one. Fix: {fix}",
            self.port,
            failed,
        )

    def late_listen_s(self, attempts: int) -> float:
        """How long to listen for late replies after ``attempts`` unanswered attempts (s): a reply
        up to 1.5 times the whole budget after the first request still counts as late."""
        spent_s = sum(self.attempt_timeout_s(a) for a in range(attempts))
        return max(self.LATE_LISTEN_RATIO * spent_s, self.LATE_LISTEN_MIN * self.timeout_s)

    def _late_listen(self, ids: list[int], attempts: int) -> dict[int, float]:
        """After a final failure: wait a little for late replies of ``ids`` (see the class doc)."""
        late = self._late_replies(ids, self.late_listen_s(attempts))
        self.stats["late"] += len(late)
        return late

    def _error_messages(self, motor: Motor, error: int) -> list[str]:
        """Plain messages for the instruction errors of a status byte (the servo refused)."""
        return []

    def _alert_messages(self, motor: Motor, error: int) -> list[str]:
        """Plain messages for the hardware-state bits of a status byte (overload, heat, voltage)."""
        return []

    supports_sync_read = True

    # --- connection ------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, check_models: bool = True) -> None:
        """Open the port, ping every expected id and check model numbers.

        Raises PortNotFoundError, PortPermissionError, PortBusyError, BaudRateError,
        MotorNotFoundError, DuplicateIdError or ModelMismatchError, each naming the fix.
        """
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self.name} on {self.port} is already connected")
        self.open_port()
        try:
            if check_models:
                self.check_motors()
        except BaseException:
            self._close()
            raise
        self._connected = True

    def open_port(self) -> None:
        """Open the serial port only, translating OS errors into messages with the fix."""
        try:
            self._open()
        except Exception as exc:
            raise self._port_error(exc) from exc

    def _port_error(self, exc: Exception) -> Exception:
        err = getattr(exc, "errno", None)
        text = str(exc)
        if err == errno.ENOENT or "No such file" in text or not os.path.exists(self.port):
            return PortNotFoundError(
                f"{self.name}: serial port {self.port} does not exist. Is the adapter plugged in "
                f"and powered? Run `bricobot find-port` to see which port it is on; prefer a "
                f"/dev/serial/by-id/... path, which does not move when you replug.",
                self.port,
            )
        if err in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
            return PortPermissionError(
                f"{self.name}: no permission to open {self.port}. Fix: {PERMISSION_FIX}",
                self.port,
            )
        if err == errno.EBUSY or "lock" in text.lower() or "busy" in text.lower():
            return PortBusyError(
                f"{self.name}: {self.port} is in use by another program (another bricobot command, "
                f"a serial monitor, or ModemManager); close it and retry.",
                self.port,
            )
        if err == errno.ENOTTY or "Inappropriate ioctl" in text:  # pyserial gives no errno here
            return PortNotFoundError(
                f"{self.name}: {self.port} is not a serial port (it exists but is not a serial "
                f"device): give the arm's port; run `bricobot find-port` to see which one it is on.",
                self.port,
            )
        return CommunicationError(f"{self.name}: cannot open {self.port}: {exc}", self.port)

    def disconnect(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError(f"{self.name} on {self.port} is not connected")
        self._connected = False
        self._close()

    def close(self) -> None:
        """Release the port whatever the state (used by tools that only opened the port)."""
        self._connected = False
        with contextlib.suppress(Exception):
            self._close()

    def __enter__(self) -> MotorBus:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected:
            self.disconnect()

    def _check_config_ids(self) -> None:
        seen: dict[int, str] = {}
        for motor in self.motors.values():
            if motor.id in seen:
                raise DuplicateIdError(
                    f"motors {seen[motor.id]!r} and {motor.name!r} are both configured with id "
                    f"{motor.id}; give each motor its own id in motors.yaml (and on the servos, "
                    f"with `bricobot setup-motors`)."
                )
            seen[motor.id] = motor.name

    def ping(
        self, servo_id: int, attempts: int | None = None, late: dict[int, float] | None = None
    ) -> int | None:
        """Model number of ``servo_id``, or None when it does not answer after the retries.

        With a ``late`` dict, a silent id is listened for a little longer and, if its reply comes
        after the budget, recorded there (``id → seconds``); scans leave it out to stay fast.
        """
        corrupted = 0
        count = (self.retries + 1) if attempts is None else attempts
        try:
            for attempt in range(count):
                self._set_reply_budget(self.attempt_timeout_s(attempt))
                try:
                    return self._ping(servo_id)
                except NoReply as exc:
                    corrupted += exc.corrupted
        finally:
            self._set_reply_budget(self.timeout_s)
        if corrupted:
            raise DuplicateIdError(
                f"{self.name} on {self.port}: replies from id {servo_id} are garbled every time: two "
                f"motors probably share id {servo_id}. Connect them one at a time and give each its "
                f"own id with `bricobot setup-motors`.",
                self.port,
            )
        if late is not None:
            late.update(self._late_listen([servo_id], count))
        return None

    def check_motors(self) -> None:
        """Ping every expected motor; raise naming who answered, with which model, and who did not."""
        answered: dict[str, int] = {}
        missing: dict[str, int] = {}
        late_s: dict[int, float] = {}
        for motor in self.motors.values():
            number = self.ping(motor.id, late=late_s)
            if number is None:
                missing[motor.name] = motor.id
            else:
                answered[motor.name] = number
        if late_s:
            silent = [self.motors[n] for n in missing]
            raise self._reply_failure("a ping at connect", silent, self.retries + 1, late_s)
        if missing and not answered:
            found = self._probe_other_baudrates()
            if found:
                raise BaudRateError(
                    f"{self.name}: no motor answered on {self.port} at {self.baudrate} baud, but "
                    f"motors answer at {found} baud. Set the bus baud rate to {found} in the config, "
                    f"or move the motors to {self.baudrate} baud with `bricobot setup-motors`.",
                    self.port,
                )
        if missing:
            raise MotorNotFoundError(self._missing_message(missing, answered), self.port, missing)
        wrong = {
            name: number
            for name, number in answered.items()
            if number != self.motors[name].spec.model_number
        }
        if wrong:
            lines = []
            for name, number in wrong.items():
                motor = self.motors[name]
                from bricobot.motors.tables import model_by_number

                actual = model_by_number(self.family, number)
                actual_name = actual.name if actual else "unknown model"
                lines.append(
                    f"  {motor.label()}: model number {number} ({actual_name}), expected "
                    f"{motor.spec.model_number} ({motor.model})"
                )
            raise ModelMismatchError(
                f"{self.name} on {self.port}: wrong servo model:\n"
                + "\n".join(lines)
                + "\nFix: fit the servo model named in motors.yaml (a different gear ratio or voltage "
                "variant behaves differently), or correct motors.yaml if the arm really uses it.",
                self.port,
            )

    def _missing_message(self, missing: dict[str, int], answered: dict[str, int]) -> str:
        gone = ", ".join(f"'{n}' (id {i})" for n, i in missing.items())
        ok = ", ".join(f"'{n}' (id {self.motors[n].id}, model {m})" for n, m in answered.items())
        return (
            f"{self.name} on {self.port} at {self.baudrate} baud: no reply from {gone}. "
            f"Answered: {ok or 'none'}. Fix: "
            + no_reply_fix(self.port, list(missing.values()), self.baudrate)
        )

    def _probe_other_baudrates(self) -> int | None:
        """Baud rate (other than the configured one) at which the first motor answers, if any.

        One ping per rate with a generous budget: the probe only runs when nothing answered, so a
        fraction of a second is cheap, and a busy host must not hide the answer.
        """
        from bricobot.motors.tables import model_spec as spec_of

        first = next(iter(self.motors.values()), None)
        if first is None:
            return None
        configured = self.baudrate
        found = None
        self._set_reply_budget(max(self.timeout_s * self.MAX_BACKOFF, 0.05))
        try:
            for rate in spec_of(first.model).baud_codes.values():
                if rate == configured:
                    continue
                self._set_baudrate(rate)
                with contextlib.suppress(NoReply):
                    self._ping(first.id)
                    found = rate
                    break
        finally:
            self._set_baudrate(configured)
            self._set_reply_budget(self.timeout_s)
        return found

    # --- registers by name ----------------------------------------------------------------

    def motor(self, name: str) -> Motor:
        try:
            return self.motors[name]
        except KeyError:
            raise RegisterError(
                f"{self.name}: no motor called {name!r}; motors: {', '.join(self.motors)}",
                self.port,
            ) from None

    def register(self, motor: Motor, register: str) -> Register:
        spec = motor.spec
        if register not in spec.registers:
            raise RegisterError(
                f"{self.name}: motor {motor.label()} ({motor.model}) has no register {register!r}; "
                f"valid registers: {', '.join(spec.registers)}",
                self.port,
            )
        return spec.registers[register]

    def _require_connected(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError(
                f"{self.name} on {self.port} is not connected; call connect() first"
            )

    def read(self, register: str, motor: str) -> int:
        """Read one register of one motor (raw value, signed where the register is)."""
        self._require_connected()
        m = self.motor(motor)
        reg = self.register(m, register)
        data, error = self._with_retries(
            m, register, lambda: self._read(m.id, reg.address, reg.size)
        )
        self._check_status(m, register, error)
        return reg.decode(data, m.spec.big_endian)

    def write(self, register: str, motor: str, value: int) -> None:
        """Write one register of one motor and check the servo accepted it."""
        self._require_connected()
        m = self.motor(motor)
        reg = self.register(m, register)
        if reg.read_only:
            raise RegisterError(
                f"{self.name}: {register} of motor {m.label()} is read-only", self.port
            )
        data = self._encode(m, reg, value)
        old = self.read(register, motor) if reg.eeprom and self.log_eeprom_writes else None
        with self._eeprom_unlocked(m, reg, int(value)):
            error = self._with_retries(m, register, lambda: self._write(m.id, reg.address, data))
        self._check_status(m, register, error)
        if old is not None and old != int(value):
            record_write(self, motor, register, old, int(value))

    def _encode(self, motor: Motor, reg: Register, value: int) -> bytes:
        try:
            return reg.encode(int(value), motor.spec.big_endian)
        except ValueError as exc:
            raise RegisterError(f"{self.name}: motor {motor.label()}: {exc}", self.port) from None

    @contextlib.contextmanager
    def _eeprom_unlocked(self, motor: Motor, reg: Register, value: int) -> Iterator[None]:
        """Feetech EEPROM is write-protected by the Lock register; Dynamixel needs torque off."""
        yield

    def _with_retries(self, motor: Motor, register: str, transaction):  # type: ignore[no-untyped-def]
        """Run ``transaction`` until it gets a reply, each retry with a longer reply budget."""
        corrupted = 0
        try:
            for attempt in range(self.retries + 1):
                self._set_reply_budget(self.attempt_timeout_s(attempt))
                try:
                    return transaction()
                except NoReply as exc:
                    corrupted += exc.corrupted
                    self.stats["corrupted" if exc.corrupted else "timeouts"] += 1
                    if attempt < self.retries:
                        self.stats["retries"] += 1
        finally:
            self._set_reply_budget(self.timeout_s)
        if corrupted:
            raise CommunicationError(
                f"{self.name} on {self.port}: corrupted replies from motor {motor.label()} "
                f"({register}) after {self.retries + 1} attempts: noise on the bus or two motors "
                f"sharing id {motor.id}. Check the cable; run `bricobot scan port={self.port}`.",
                self.port,
                {motor.name: motor.id},
            )
        late = self._late_listen([motor.id], self.retries + 1)
        raise self._reply_failure(f"a read of {register}", [motor], self.retries + 1, late)

    def _check_status(self, motor: Motor, register: str, error: int) -> None:
        # Hardware alerts do not invalidate the data: remember them for health reports and errors.
        alerts = self._alert_messages(motor, error)
        if alerts:
            self.alerts[motor.name] = alerts
        else:
            self.alerts.pop(motor.name, None)
        messages = self._error_messages(motor, error)
        if messages:
            raise ServoError(
                f"{self.name} on {self.port}: motor {motor.label()} refused or flagged {register}: "
                + "; ".join(messages),
                self.port,
            )

    def _select(self, motors: Iterable[str] | None) -> list[Motor]:
        return [self.motor(n) for n in (self.motors if motors is None else motors)]

    def sync_read(self, register: str, motors: Iterable[str] | None = None) -> dict[str, int]:
        """Read ``register`` from several motors in one transaction; ``{name: raw value}``.

        Motors that did not answer (or whose reply was corrupted) are asked again, up to
        ``retries`` times; then CommunicationError names every motor still silent.
        """
        self._require_connected()
        selected = self._select(motors)
        if not selected:
            return {}
        regs = {m.name: self.register(m, register) for m in selected}
        first = regs[selected[0].name]
        if any((r.address, r.size) != (first.address, first.size) for r in regs.values()):
            raise RegisterError(
                f"{self.name}: {register} is at different addresses on these models; read it "
                f"per motor with read()",
                self.port,
            )
        if not self.supports_sync_read:
            return {m.name: self.read(register, m.name) for m in selected}
        by_id = {m.id: m for m in selected}
        values: dict[str, int] = {}
        errors: dict[int, int] = {}
        try:
            pending, dropped = self._sync_read_attempts(by_id, first, values, errors)
        finally:
            self._set_reply_budget(self.timeout_s)
        if pending:
            late = self._late_listen(pending, self.retries + 1)
            silent = [by_id[i] for i in pending]
            what, attempts = f"a sync read of {register}", self.retries + 1
            # A corrupted frame on every attempt (a shared id, noise) is not silence.
            corrupted = dropped if dropped >= attempts else 0
            raise self._reply_failure(what, silent, attempts, late, corrupted)
        for servo_id, error in errors.items():
            self._check_status(by_id[servo_id], register, error)
        return {m.name: values[m.name] for m in selected}

    def _sync_read_attempts(
        self,
        by_id: dict[int, Motor],
        reg: Register,
        values: dict[str, int],
        errors: dict[int, int],
    ) -> tuple[list[int], int]:
        """Sync-read ``reg`` from ``by_id`` into ``values`` (and status bytes into ``errors``),
        asking again only the silent ids, each retry with a longer budget; returns the ids still
        silent after every attempt, and how many corrupted replies were dropped."""
        pending = list(by_id)
        dropped = 0
        for attempt in range(self.retries + 1):
            self._set_reply_budget(self.attempt_timeout_s(attempt))
            replies, corrupted = self._sync_read(pending, reg.address, reg.size)
            self.stats["corrupted"] += corrupted
            dropped += corrupted
            for servo_id, (data, error) in replies.items():
                motor = by_id[servo_id]
                values[motor.name] = reg.decode(data, motor.spec.big_endian)
                if error:
                    errors[servo_id] = error
            pending = [i for i in pending if i not in replies]
            if not pending:
                break
            # Replies come in the order asked, and a driver may stop listening at the first silent
            # id; ask that one last next time so the motors after it get their turn.
            pending = pending[1:] + pending[:1]
            self.stats["timeouts"] += len(pending) - min(corrupted, len(pending))
            if attempt < self.retries:
                self.stats["retries"] += 1
        return pending, dropped

    def sync_write(self, register: str, values: dict[str, int]) -> None:
        """Write ``register`` on several motors in one broadcast (no reply, by design)."""
        self._require_connected()
        if not values:
            return
        key = (register, tuple(values))
        plan = self._write_plans.get(key)
        if plan is None:
            plan = self._write_plans[key] = self._plan_write(register, list(values))
        motors, first = plan
        if first.eeprom:
            for m in motors:  # EEPROM writes need per-motor unlocking and a check: go one by one
                self.write(register, m.name, values[m.name])
            return
        try:
            data = {m.id: first.encode(int(values[m.name]), m.spec.big_endian) for m in motors}
        except ValueError:
            data = {m.id: self._encode(m, first, values[m.name]) for m in motors}  # names the motor
        self._sync_write(first.address, first.size, data)

    def _plan_write(self, register: str, names: list[str]) -> tuple[list[Motor], Register]:
        """Checked motors and register of a sync write (cached: a control loop repeats it)."""
        motors = [self.motor(n) for n in names]
        regs = [self.register(m, register) for m in motors]
        if any(r.read_only for r in regs):
            raise RegisterError(f"{self.name}: {register} is read-only", self.port)
        first = regs[0]
        if any((r.address, r.size) != (first.address, first.size) for r in regs):
            raise RegisterError(
                f"{self.name}: {register} is at different addresses on these models", self.port
            )
        return motors, first

    # --- torque -----------------------------------------------------------------------------

    def disable_torque(self, motors: Iterable[str] | None = None) -> None:
        """Torque off (the joints go limp)."""
        names = [m.name for m in self._select(motors)]
        self.sync_write("Torque_Enable", dict.fromkeys(names, 0))

    def enable_torque(
        self, motors: Iterable[str] | None = None, hold_position: bool = True
    ) -> None:
        """Torque on. With ``hold_position`` the goal is first set to the present position, so the
        arm does not lurch towards a stale goal."""
        names = [m.name for m in self._select(motors)]
        if hold_position:
            present = self.sync_read("Present_Position", names)
            self.sync_write("Goal_Position", present)
        self.sync_write("Torque_Enable", dict.fromkeys(names, 1))

    @contextlib.contextmanager
    def torque_disabled(self, motors: Iterable[str] | None = None) -> Iterator[None]:
        """Torque off inside the block; afterwards, motors that had torque on get it back."""
        names = [m.name for m in self._select(motors)]
        before = self.sync_read("Torque_Enable", names)
        self.disable_torque(names)
        try:
            yield
        finally:
            was_on = [n for n, v in before.items() if v]
            if was_on:
                self.enable_torque(was_on)

    # --- health -----------------------------------------------------------------------------

    @abc.abstractmethod
    def read_health(self, motors: Iterable[str] | None = None) -> dict[str, MotorHealth]:
        """Temperature, voltage, load and hardware error messages of each motor."""

    # --- positions in degrees ---------------------------------------------------------------

    def read_positions(self, motors: Iterable[str] | None = None) -> dict[str, float]:
        """Present positions in degrees from the zero pose (gripper: percent open), by calibration."""
        raw = self.sync_read("Present_Position", motors)
        return {name: self._calibration(name).ticks_to_value(ticks) for name, ticks in raw.items()}

    def write_goals(self, goals: dict[str, float]) -> dict[str, int]:
        """Send goals in degrees (gripper: percent); returns the raw ticks written."""
        ticks = {name: self._calibration(name).value_to_ticks(v) for name, v in goals.items()}
        self.sync_write("Goal_Position", ticks)
        return ticks

    def _calibration(self, name: str) -> MotorCalibration:
        try:
            return self.calibration[name]
        except KeyError:
            raise RegisterError(
                f"{self.name}: motor {name!r} has no calibration; run `bricobot calibrate` and load "
                f"the file (bus.calibration = load_calibration(path))",
                self.port,
            ) from None


def open_serial(port: str, baudrate: int) -> serial.Serial:
    """Open ``port`` raw 8N1 without blocking; exclusive where the OS supports it."""
    import serial as pyserial

    try:
        return pyserial.Serial(port, baudrate, timeout=0, write_timeout=1.0, exclusive=True)
    except pyserial.SerialException as exc:
        # pyserial wraps OSError; keep the errno so the bus can explain it.
        inner = exc.__context__ if isinstance(exc.__context__, OSError) else None
        if inner is not None:
            raise inner from exc
        if exc.errno is not None:
            raise OSError(exc.errno, str(exc)) from exc
        raise


def deadline_after(seconds: float) -> float:
    return time.monotonic() + seconds
