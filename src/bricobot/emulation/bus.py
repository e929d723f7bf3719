"""A virtual servo bus on a pseudo-terminal, answering byte for byte as the hardware does.

``VirtualBus(servos)`` opens a pty pair (``os.openpty``); drivers, the vendor SDKs and users open
``bus.port`` (the slave tty path) like a USB adapter. A background thread reads the master side,
decodes instruction packets with the same codec the drivers use, and answers for each servo:

- one status packet per addressed id; for a sync or bulk read, one per id in the order asked;
- no reply to broadcasts (sync / bulk write, broadcast write), except a broadcast ping (one per
  servo);
- Dynamixel: every Protocol 2.0 instruction the vendor SDK sends (PING, READ, WRITE, REG_WRITE,
  ACTION, FACTORY_RESET, REBOOT, CLEAR, SYNC/BULK READ and WRITE), status packets as the
  Status_Return_Level says, error numbers as the e-Manual lists them (see ``servo.py``);
- servos listen at their own baud rate: a driver opened at another rate gets silence;
- two servos sharing an id answer at once and their replies collide into garbage;
- optional return delay (``Return_Delay_Time`` × 2 µs) when ``return_delay=True``.

Time advances lazily: on each instruction, every servo (or the :class:`JointSource`) is stepped by
the wall time elapsed since the previous one. Faults (:class:`Faults`) drop, corrupt or delay replies,
unplug servos and trip overloads; change ``bus.faults`` at any time.

Plugging in another joint model (e.g. MuJoCo)::

    class MujocoJoints:
        def step(self, goals: dict[int, float | None], dt_s: float) -> dict[int, float]:
            # goals: servo id → goal in raw encoder ticks (None: torque off, the joint is free)
            ...advance the physics by dt_s...
            return {servo_id: raw_ticks, ...}  # the shaft positions, raw encoder ticks

    with VirtualBus(servos, joint_source=MujocoJoints()) as bus:
        FeetechBus(bus.port, motors).connect()

Raw ticks are the encoder reading before homing offset and drive mode (see ``servo.py``); a source
maps a joint angle θ (deg) to raw ticks as ``zero_raw + θ · resolution / 360`` for its own
``zero_raw`` per joint. Servos a source does not return keep the built-in motor model.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from typing import Protocol as TypingProtocol

from bricobot.emulation.servo import VirtualServo, WriteResult
from bricobot.motors.protocol import dynamixel as dp
from bricobot.motors.protocol import feetech as fp
from bricobot.motors.tables import Protocol


class JointSource(TypingProtocol):
    """Drives the shafts of a virtual bus's servos (see the module docstring)."""

    def step(self, goals: dict[int, float | None], dt_s: float) -> dict[int, float]: ...


@dataclass
class Faults:
    """Faults to inject; rates are per status packet, drawn from a seeded generator."""

    drop_rate: float = 0.0  # fraction of status packets never sent
    corrupt_rate: float = 0.0  # fraction sent with one byte flipped (bad checksum / CRC)
    delay_s: float = 0.0  # extra delay before every reply
    unplugged: set[int] = field(default_factory=set)  # ids that never answer
    overload: set[int] = field(default_factory=set)  # ids that trip an overload (torque off)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop_rate", "corrupt_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be in [0, 1], got {value}")
        self.rng = random.Random(self.seed)


def _speed_table() -> dict[int, int]:
    table = {}
    for name in dir(termios):
        if name.startswith("B") and name[1:].isdigit():
            table[getattr(termios, name)] = int(name[1:])
    return table


_SPEEDS = _speed_table()


class VirtualBus:
    """Many virtual servos on one pseudo-terminal.

    Args:
        servos: the servos on the bus (all Feetech or all Dynamixel).
        port_path: optional path of a symlink to the pty (e.g. ``/tmp/so101_follower``), so a
            config can name a stable port; removed on stop.
        faults: fault injection settings (default: none).
        return_delay: wait each servo's Return_Delay_Time before answering, as the hardware does.
        joint_source: optional model driving the shafts (see :class:`JointSource`).
    """

    def __init__(
        self,
        servos: Iterable[VirtualServo],
        port_path: str | None = None,
        faults: Faults | None = None,
        return_delay: bool = False,
        joint_source: JointSource | None = None,
    ) -> None:
        self.servos = list(servos)
        if not self.servos:
            raise ValueError("a VirtualBus needs at least one VirtualServo")
        families = {s.spec.protocol is Protocol.DYNAMIXEL for s in self.servos}
        if len(families) > 1:
            raise ValueError("a VirtualBus serves either Feetech or Dynamixel servos, not both")
        self.dynamixel = families.pop()
        self.faults = faults or Faults()
        self.return_delay = return_delay
        self.joint_source = joint_source
        self.link_path = port_path
        self._master = -1
        self._slave = -1
        self.port = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._lock = threading.RLock()
        self._last_step = time.monotonic()
        #: Instruction packets received (of them sync/bulk reads), and status packets sent /
        #: dropped / corrupted.
        self.counts = {
            "instructions": 0,
            "group_reads": 0,
            "replies": 0,
            "dropped": 0,
            "corrupted": 0,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> VirtualBus:
        if self._thread is not None:
            return self
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        if self.link_path:
            link = Path(self.link_path)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(self.port)
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._last_step = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name="virtual-bus", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2.0)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.link_path and Path(self.link_path).is_symlink():
            Path(self.link_path).unlink()

    def __enter__(self) -> VirtualBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def path(self) -> str:
        """What a driver should open: the symlink when one was asked for, else the pty."""
        return self.link_path or self.port

    # --- access for tests and joint models -----------------------------------------------

    def servo(self, servo_id: int) -> VirtualServo:
        for s in self.servos:
            if s.id == servo_id:
                return s
        raise KeyError(f"no virtual servo with id {servo_id}; ids: {[s.id for s in self.servos]}")

    @contextlib.contextmanager
    def locked(self):  # type: ignore[no-untyped-def]
        """Hold the bus still (no instruction is served) while changing servo state by hand."""
        with self._lock:
            yield

    def advance(self, dt_s: float | None = None) -> None:
        """Step every servo (or the joint source) by ``dt_s`` (default: wall time since last)."""
        with self._lock:
            now = time.monotonic()
            dt = now - self._last_step if dt_s is None else dt_s
            self._last_step = now
            if dt <= 0:
                return
            driven: dict[int, float] = {}
            if self.joint_source is not None:
                goals = {s.id: s.goal_raw_ticks() for s in self.servos}
                driven = self.joint_source.step(goals, dt)
            for s in self.servos:
                if s.id in driven:
                    s.raw_ticks = float(driven[s.id])
                else:
                    s.step(dt)

    # --- serving ---------------------------------------------------------------------------

    def _current_baudrate(self) -> int:
        try:
            speed = termios.tcgetattr(self._master)[5]
        except termios.error:
            return -1
        return _SPEEDS.get(speed, -1)

    def _serve(self) -> None:
        parser: fp.FeetechParser | dp.DynamixelParser = (
            dp.DynamixelParser() if self.dynamixel else fp.FeetechParser()
        )
        while not self._stop.is_set():
            ready, _, _ = select.select((self._master, self._wake_r), (), (), 0.5)
            if self._wake_r in ready or self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.01)
                continue
            for packet in parser.feed(data):
                with self._lock:
                    self.counts["instructions"] += 1
                    self.advance()
                    replies = self._handle(packet)
                if replies:
                    self._send(replies)

    def _send(self, replies: list[bytes]) -> None:
        """Write the status packets of one instruction back to back, as the servos put them on
        the wire (and a USB adapter delivers them: in one transfer), after applying faults."""
        faults = self.faults
        if faults.delay_s:
            time.sleep(faults.delay_s)
        rng = faults.rng
        out = bytearray()
        for reply in replies:
            if faults.drop_rate and rng.random() < faults.drop_rate:
                self.counts["dropped"] += 1
                continue
            if faults.corrupt_rate and rng.random() < faults.corrupt_rate:
                self.counts["corrupted"] += 1
                reply = reply[:-1] + bytes(((reply[-1] ^ 0x5A) & 0xFF,))
            self.counts["replies"] += 1
            out += reply
        view = memoryview(bytes(out))
        while view:
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                select.select((), (self._master,), (), 0.1)

    def _listening(self, baudrate: int) -> list[VirtualServo]:
        unplugged = self.faults.unplugged
        return [s for s in self.servos if s.baudrate == baudrate and s.id not in unplugged]

    def _handle(self, packet: fp.Packet | dp.Packet) -> list[bytes]:
        for s in self.servos:
            if s.id in self.faults.overload and not s.overloaded:
                s.set_overload()
        live = self._listening(self._current_baudrate())
        if isinstance(packet, dp.Packet):
            if packet.instruction == dp.STATUS:
                return []  # our own echo or another master: ignore
            return self._handle_dynamixel(packet, live)
        return self._handle_feetech(packet, live)

    def _delay(self, servo: VirtualServo) -> None:
        if self.return_delay:
            time.sleep(servo._value("Return_Delay_Time") * 2e-6)

    def _group_read_replies(
        self,
        live: list[VirtualServo],
        requests: list[tuple[int, int, int]],
        answer: Callable[[VirtualServo, int, int], bytes],
    ) -> list[bytes]:
        """Sync / bulk read (both protocols): for each ``(id, address, size)`` asked, in the order
        asked, one status packet from the servo with that id, if present; ``answer`` builds it."""
        self.counts["group_reads"] += 1
        out = []
        for servo_id, address, size in requests:
            group = [s for s in live if s.id == servo_id]
            if group:
                self._delay(group[0])
                out.append(self._collide([answer(s, address, size) for s in group]))
        return out

    @staticmethod
    def _collide(replies: list[bytes]) -> bytes:
        """Servos sharing an id answer at once; they never start on the same bit, so the wire
        carries their bytes OR-ed together out of step: garbage that fails the checksum."""
        if len(replies) == 1:
            return replies[0]
        size = max(len(r) + k for k, r in enumerate(replies))
        out = bytearray(size)
        for k, r in enumerate(replies):
            for i, b in enumerate(r):
                out[i + k] |= b
        return bytes(out)

    # --- Feetech ---------------------------------------------------------------------------

    def _handle_feetech(self, packet: fp.Packet, live: list[VirtualServo]) -> list[bytes]:
        code, params, target = packet.code, packet.params, packet.servo_id
        if code == fp.SYNC_READ:
            if len(params) < 2:
                return []
            address, size = params[0], params[1]
            requests = [(servo_id, address, size) for servo_id in params[2:]]
            return self._group_read_replies(live, requests, self._feetech_read_status)
        if code == fp.SYNC_WRITE:
            if len(params) < 2:
                return []
            address, size = params[0], params[1]
            body = params[2:]
            for i in range(0, len(body) - size, size + 1):
                for s in live:
                    if s.id == body[i]:
                        s.write(address, bytes(body[i + 1 : i + 1 + size]))
            return []
        broadcast = target == fp.BROADCAST_ID
        group = live if broadcast else [s for s in live if s.id == target]
        replies = []
        for s in group:
            old_id = s.id
            data = b""
            if code == fp.PING:
                pass
            elif code == fp.READ and len(params) >= 2:
                data = s.read(params[0], params[1])
            elif code == fp.WRITE and params:
                s.write(params[0], bytes(params[1:]))
            elif code == fp.REG_WRITE and params:
                s.register_write(params[0], bytes(params[1:]))
            elif code == fp.ACTION:
                s.action()
            else:
                continue
            if broadcast and code != fp.PING:
                continue
            level = s._value("Response_Status_Level")
            if level == 0 and code not in (fp.PING, fp.READ):
                continue
            self._delay(s)
            replies.append(fp.status(old_id, s.status_error(), data))
        if not replies:
            return []
        if broadcast:
            return replies
        return [self._collide(replies)]

    @staticmethod
    def _feetech_read_status(servo: VirtualServo, address: int, size: int) -> bytes:
        return fp.status(servo.id, servo.status_error(), servo.read(address, size))

    # --- Dynamixel -------------------------------------------------------------------------

    #: Protocol 2.0 error numbers (status packet error byte, bits 0-6).
    _DXL_ERRORS: ClassVar[dict[str, int]] = {
        "": 0,
        "fail": 1,
        "instruction": 2,
        "range": 4,
        "length": 5,
        "limit": 6,
        "access": 7,
    }

    def _handle_dynamixel(self, packet: dp.Packet, live: list[VirtualServo]) -> list[bytes]:
        instr, params = packet.instruction, packet.params
        if instr in (dp.SYNC_READ, dp.BULK_READ):
            # A read answers at Status_Return_Level 1 and 2; at 0 the servo answers PING only.
            readers = [s for s in live if s._value("Status_Return_Level") > 0]
            requests = (
                _sync_read_requests(params) if instr == dp.SYNC_READ else _bulk_requests(params)
            )
            return self._group_read_replies(readers, requests, self._dynamixel_read_status)
        if instr in (dp.SYNC_WRITE, dp.BULK_WRITE):
            writes = _sync_writes(params) if instr == dp.SYNC_WRITE else _bulk_writes(params)
            for servo_id, address, data in writes:
                for s in live:
                    if s.id == servo_id:
                        s.write(address, data)
            return []  # broadcast: no status packet
        return self._dynamixel_addressed(packet, live)

    def _dynamixel_read_status(self, servo: VirtualServo, address: int, size: int) -> bytes:
        result, data = servo.checked_read(address, size)
        error = self._DXL_ERRORS[result.error] | servo.status_error()
        return dp.status(servo.id, error, data)

    def _dynamixel_addressed(self, packet: dp.Packet, live: list[VirtualServo]) -> list[bytes]:
        """One id or broadcast: execute on each servo, answer as its Status_Return_Level says
        (read before executing: a reboot or factory reset changes it) and from its old id."""
        instr, target = packet.instruction, packet.servo_id
        broadcast = target == dp.BROADCAST_ID
        group = live if broadcast else [s for s in live if s.id == target]
        replies = []
        for s in sorted(group, key=lambda s: s.id) if broadcast else group:
            old_id = s.id
            answers = _dynamixel_answers(s._value("Status_Return_Level"), instr, broadcast)
            result, data = self._dynamixel_execute(s, packet, broadcast)
            if answers:
                self._delay(s)
                error = self._DXL_ERRORS[result.error] | s.status_error()
                replies.append(dp.status(old_id, error, data))
        if not replies:
            return []
        if broadcast:
            return replies
        return [self._collide(replies)]

    @staticmethod
    def _dynamixel_execute(
        s: VirtualServo, packet: dp.Packet, broadcast: bool
    ) -> tuple[WriteResult, bytes]:
        """Run one instruction on one servo: (outcome, data of the status packet)."""
        instr, params = packet.instruction, packet.params
        if instr == dp.PING:
            return WriteResult(""), s.read(0, 2) + bytes((s._value("Firmware_Version"),))
        if instr == dp.READ:
            if len(params) != 4:
                return WriteResult("length"), b""
            return s.checked_read(params[0] | params[1] << 8, params[2] | params[3] << 8)
        if instr in (dp.WRITE, dp.REG_WRITE):
            if len(params) < 2:
                return WriteResult("length"), b""
            store = s.write if instr == dp.WRITE else s.register_write
            return store(params[0] | params[1] << 8, bytes(params[2:])), b""
        if instr == dp.ACTION:
            return s.action(), b""
        if instr == dp.REBOOT:
            return s.reboot(), b""
        if instr == dp.FACTORY_RESET:
            if len(params) != 1:
                return WriteResult("length"), b""
            if broadcast and params[0] == 0xFF:
                return WriteResult(""), b""  # firmware ≥ 42 ignores a broadcast "reset all"
            return s.factory_reset(params[0]), b""
        if instr == dp.CLEAR:
            return s.clear(params), b""
        return WriteResult("instruction"), b""


def _dynamixel_answers(level: int, instruction: int, broadcast: bool) -> bool:
    """Whether a Dynamixel sends a status packet (Status_Return_Level: 0 PING only, 1 PING and
    READ, 2 all); to a broadcast only PING is answered."""
    if instruction == dp.PING:
        return True
    if broadcast:
        return False
    return level == 2 or (level == 1 and instruction == dp.READ)


def _u16(data: bytes, i: int) -> int:
    return data[i] | data[i + 1] << 8


def _sync_read_requests(params: bytes) -> list[tuple[int, int, int]]:
    """SYNC_READ parameters ``addr(2) size(2) id…`` → ``[(id, address, size)]``."""
    if len(params) < 4:
        return []
    address, size = _u16(params, 0), _u16(params, 2)
    return [(servo_id, address, size) for servo_id in params[4:]]


def _bulk_requests(params: bytes) -> list[tuple[int, int, int]]:
    """BULK_READ parameters ``[id addr(2) size(2)]…`` → ``[(id, address, size)]``."""
    return [
        (params[i], _u16(params, i + 1), _u16(params, i + 3)) for i in range(0, len(params) - 4, 5)
    ]


def _sync_writes(params: bytes) -> list[tuple[int, int, bytes]]:
    """SYNC_WRITE parameters ``addr(2) size(2) [id data(size)]…`` → ``[(id, address, data)]``."""
    if len(params) < 4:
        return []
    address, size = _u16(params, 0), _u16(params, 2)
    body = params[4:]
    return [
        (body[i], address, bytes(body[i + 1 : i + 1 + size]))
        for i in range(0, len(body) - size, size + 1)
    ]


def _bulk_writes(params: bytes) -> list[tuple[int, int, bytes]]:
    """BULK_WRITE parameters ``[id addr(2) size(2) data(size)]…`` → ``[(id, address, data)]``;
    a truncated last entry is dropped."""
    out = []
    i = 0
    while i + 5 <= len(params):
        size = _u16(params, i + 3)
        if i + 5 + size > len(params):
            break
        out.append((params[i], _u16(params, i + 1), bytes(params[i + 5 : i + 5 + size])))
        i += 5 + size
    return out
