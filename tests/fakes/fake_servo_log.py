"""A virtual servo that logs every register write, so tests can check what reached a motor, in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bricobot.emulation.servo import VirtualServo, WriteResult


@dataclass(frozen=True)
class WriteEvent:
    seq: int
    servo_id: int
    register: str
    value: int
    error: str


@dataclass
class WriteLog:
    """Every write the servos received, in arrival order (shared by all servos of a bus)."""

    events: list[WriteEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, servo_id: int, register: str, value: int, error: str) -> None:
        with self.lock:
            self.events.append(WriteEvent(len(self.events), servo_id, register, value, error))

    def of(self, register: str, servo_id: int | None = None) -> list[WriteEvent]:
        with self.lock:
            return [
                e
                for e in self.events
                if e.register == register and (servo_id is None or e.servo_id == servo_id)
            ]

    def mark(self) -> int:
        """The sequence number the next write will get (to look at writes after a point)."""
        with self.lock:
            return len(self.events)


def logging_servo_class(log: WriteLog) -> type[VirtualServo]:
    """A VirtualServo subclass whose writes go to ``log`` (pass as ``servo_class``)."""

    class LoggingServo(VirtualServo):
        def write(self, address: int, data: bytes) -> WriteResult:
            result = super().write(address, data)
            for reg in self.spec.registers.values():
                if reg.address == address and reg.size <= len(data):
                    value = reg.decode(data[: reg.size], self.spec.big_endian)
                    log.add(self.id, reg.name, value, result.error)
                    break
            return result

    return LoggingServo
