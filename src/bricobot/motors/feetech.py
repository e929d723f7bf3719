"""Feetech STS/SCS bus (SO-100/SO-101 arms): the shared codec over pyserial.

Why not the vendor SDK (``scservo_sdk``)? Measured against the emulator and read in its source:
- its reply timeout is fixed at ``2 × 16 ms + 2 ms`` per packet, so an unplugged motor costs
  ≥ 34 ms per attempt; here the first attempt waits ``timeout_s`` and retries wait longer;
- it busy-waits on a non-blocking port while waiting for a reply, burning a core that the video
  encoder and the control loop need; here the thread sleeps in ``select`` until bytes arrive;
- it keeps the byte order in a module-level global (``SCS_SETEND``), so an STS bus and an SCS bus
  in one process corrupt each other's values; here the order comes from the motor's model;
- a sync read stops at the first bad packet and does not say which ids answered; here every valid
  reply in the burst is kept and only the silent ids are asked again.
The codec (``motors.protocol.feetech``) is the same one the emulator uses, tested against the SDK's
bytes. POSIX only (Linux, macOS), like the rest of the serial stack.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from bricobot.motors.bus import Motor, MotorBus, MotorHealth, NoReply, open_serial
from bricobot.motors.protocol import feetech as fp
from bricobot.motors.tables import Protocol, Register

if TYPE_CHECKING:
    import serial


class FeetechBus(MotorBus):
    """Feetech STS/SCS servos on one port. See :class:`~bricobot.motors.bus.MotorBus` for the API."""

    family = "feetech"
    default_baudrate = 1_000_000
    default_timeout_s = 0.01

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._parser = fp.FeetechParser()
        #: When the last request expecting a reply was sent (monotonic s), to time late replies.
        self._request_sent_s = 0.0
        scs = [m.spec.protocol is Protocol.FEETECH_SCS for m in self.motors.values()]
        # SCS servos have no SYNC_READ: fall back to one read per motor on such buses.
        self.supports_sync_read = not any(scs)

    # --- port -----------------------------------------------------------------------------

    def _open(self) -> None:
        ser = open_serial(self.port, self.baudrate)
        self._serial = ser
        self._fd = ser.fileno()

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
        self._serial = None
        self._fd = -1

    def _set_baudrate(self, baudrate: int) -> None:
        if self._serial is not None:
            self._serial.baudrate = baudrate
        self.baudrate = baudrate

    def _byte_time_s(self) -> float:
        return 10.0 / self.baudrate

    def _send(self, packet: bytes, expect_reply: bool = True) -> None:
        if expect_reply:
            # Drop stale bytes (a late reply to an earlier, timed-out request) before asking again;
            # count them: late replies mean the host, not the wiring, is the problem.
            if select.select((self._fd,), (), (), 0)[0]:
                self.stats["late"] += 1
            termios.tcflush(self._fd, termios.TCIFLUSH)
            self._parser.clear()
            self._request_sent_s = time.monotonic()
        try:
            written = os.write(self._fd, packet)
        except BlockingIOError:
            written = 0
        while written < len(packet):  # the OS buffer is full: wait until the adapter drains it
            select.select((), (self._fd,), (), 1.0)
            with contextlib.suppress(BlockingIOError):
                written += os.write(self._fd, packet[written:])

    def _receive(self, ids: list[int], reply_size: int) -> tuple[dict[int, fp.Packet], int]:
        """Collect one status packet per id in ``ids`` until all arrived or the deadline passed.

        Returns the valid packets by id and the number of corrupted frames seen. A corrupted frame
        counts for one missing id, so a burst with one bad packet ends without waiting. Bytes
        already waiting are read even past the deadline: a thread the OS woke late must not drop
        replies that came in time.
        """
        wire_s = (len(ids) * (reply_size + 6) + 8) * self._byte_time_s()
        deadline = time.monotonic() + self.reply_budget_s + wire_s
        got: dict[int, fp.Packet] = {}
        parser = self._parser
        bad_before = parser.bad_frames
        wanted = set(ids)
        while True:
            corrupted = parser.bad_frames - bad_before
            if len(got) + corrupted >= len(wanted):
                return got, corrupted
            remaining = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select((self._fd,), (), (), remaining)
            if not ready:
                return got, parser.bad_frames - bad_before
            for packet in parser.feed(os.read(self._fd, 4096)):
                if packet.servo_id in wanted and len(packet.params) == reply_size:
                    got[packet.servo_id] = packet

    def _late_replies(self, ids: list[int], wait_s: float) -> dict[int, float]:
        """Replies of ``ids`` arriving within ``wait_s`` after the last attempt gave up."""
        deadline = time.monotonic() + wait_s
        found: dict[int, float] = {}
        wanted = set(ids)
        while len(found) < len(wanted):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select((self._fd,), (), (), remaining)[0]:
                break
            arrived_s = time.monotonic() - self._request_sent_s
            for packet in self._parser.feed(os.read(self._fd, 4096)):
                if packet.servo_id in wanted:
                    found.setdefault(packet.servo_id, arrived_s)
        return found

    def broadcast_ping(self, wait_s: float = 0.02) -> tuple[dict[int, int], int]:
        """Ping every id at once: ``({id: model number}, corrupted replies)``."""
        self._send(fp.ping(fp.BROADCAST_ID))
        deadline = time.monotonic() + wait_s
        ids: list[int] = []
        before = self._parser.bad_frames
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select((self._fd,), (), (), remaining)
            if ready:
                ids += [p.servo_id for p in self._parser.feed(os.read(self._fd, 4096))]
        corrupted = self._parser.bad_frames - before
        models = {}
        for servo_id in sorted(set(ids)):
            try:
                reply = self._transact(servo_id, fp.read(servo_id, 3, 2), 2)
            except NoReply:
                continue
            models[servo_id] = int.from_bytes(reply.params, "little")
        return models, corrupted

    # --- raw transactions -------------------------------------------------------------------

    def _transact(self, servo_id: int, packet: bytes, reply_size: int) -> fp.Packet:
        self._send(packet)
        got, corrupted = self._receive([servo_id], reply_size)
        if servo_id not in got:
            raise NoReply(corrupted=bool(corrupted))
        return got[servo_id]

    def _ping(self, servo_id: int) -> int:
        self._transact(servo_id, fp.ping(servo_id), 0)
        # Like the vendor SDK: the ping reply has no payload; the model number is at address 3.
        reply = self._transact(servo_id, fp.read(servo_id, 3, 2), 2)
        big = self._big_endian_for(servo_id)
        return int.from_bytes(reply.params, "big" if big else "little")

    def _big_endian_for(self, servo_id: int) -> bool:
        for m in self.motors.values():
            if m.id == servo_id:
                return m.spec.big_endian
        return False

    def _read(self, servo_id: int, address: int, size: int) -> tuple[bytes, int]:
        reply = self._transact(servo_id, fp.read(servo_id, address, size), size)
        return reply.params, reply.code

    def _write(self, servo_id: int, address: int, data: bytes) -> int:
        return self._transact(servo_id, fp.write(servo_id, address, data), 0).code

    def _sync_read(
        self, ids: list[int], address: int, size: int
    ) -> tuple[dict[int, tuple[bytes, int]], int]:
        self._send(fp.sync_read(ids, address, size))
        got, corrupted = self._receive(ids, size)
        return {i: (p.params, p.code) for i, p in got.items()}, corrupted

    def _sync_write(self, address: int, size: int, data_by_id: dict[int, bytes]) -> None:
        self._send(fp.sync_write(address, size, data_by_id), expect_reply=False)

    def _alert_messages(self, motor: Motor, error: int) -> list[str]:
        # Every Feetech status bit is a hardware state; a Feetech servo never refuses by status.
        return fp.error_messages(error)

    # --- register rules -------------------------------------------------------------------

    @contextlib.contextmanager
    def _eeprom_unlocked(self, motor: Motor, reg: Register, value: int) -> Iterator[None]:
        """EEPROM writes are ignored while Lock = 1: unlock around them, lock again after, at the
        id the servo answers to then (a write of ``ID`` moves it to ``value``)."""
        if not reg.eeprom:
            yield
            return
        lock = motor.spec.register("Lock")
        self._with_retries(motor, "Lock", lambda: self._write(motor.id, lock.address, b"\x00"))
        moved = reg is motor.spec.register("ID")
        try:
            yield
        finally:
            servo_id = value if moved else motor.id
            self._with_retries(motor, "Lock", lambda: self._write(servo_id, lock.address, b"\x01"))

    # --- health ---------------------------------------------------------------------------

    def read_health(self, motors: Iterable[str] | None = None) -> dict[str, MotorHealth]:
        names = [m.name for m in self._select(motors)]
        temperature = self.sync_read("Present_Temperature", names)
        voltage = self.sync_read("Present_Voltage", names)
        load = self.sync_read("Present_Load", names)
        status = self.sync_read("Status", names)
        return {
            n: MotorHealth(
                temperature_c=float(temperature[n]),
                voltage_v=voltage[n] / 10.0,
                load_pct=load[n] / 10.0,
                errors=fp.error_messages(status[n]),
            )
            for n in names
        }
