"""A virtual servo: one model's control table with its factory defaults and its rules.

State that matters to a driver lives in the control table bytes, exactly where the real servo keeps
it. The physical shaft is ``raw_ticks`` (the encoder reading before homing offset and drive mode,
continuous: a hand may push it anywhere). The register semantics follow the real servos:

- Feetech: ``Present_Position = (raw − Homing_Offset) mod resolution``; EEPROM writes are ignored
  while ``Lock`` is 1; goals are clamped to the position limits.
- Dynamixel: ``Present_Position = raw' + Homing_Offset`` where ``raw' = raw`` (or
  ``resolution − 1 − raw`` with Drive_Mode bit 0 set: reverse); EEPROM writes with torque on and
  writes to read-only registers answer an access error; in position mode a goal outside the
  limits answers a data-limit error and is ignored.

With torque on, the shaft moves towards the goal at the model's speed (in the servo's own,
offset coordinates, as its controller does). Overload trips torque off and raises the error bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from bricobot.motors.tables import ModelSpec, Protocol, model_spec

AMBIENT_C = 30


@dataclass
class WriteResult:
    """Outcome of a register write, as a protocol-neutral code the bus turns into a status byte."""

    error: str = ""  # "", "access", "limit", "range"


class VirtualServo:
    """One emulated servo.

    Args:
        model: a key of ``bricobot.motors.tables.MODELS``.
        servo_id: bus id (factory default 1).
        baudrate: bus speed it listens at (default: the model's factory baud rate).
        raw_ticks: initial shaft position in encoder ticks (default: mid-range).
        registers: extra register values by name, applied over the factory defaults.
    """

    def __init__(
        self,
        model: str,
        servo_id: int = 1,
        baudrate: int | None = None,
        raw_ticks: float | None = None,
        **registers: int,
    ) -> None:
        self.spec: ModelSpec = model_spec(model)
        self.memory = bytearray(256)
        for name, value in self.spec.defaults.items():
            self._poke(name, value)
        self._poke("ID", servo_id)
        if baudrate is not None:
            self._poke("Baud_Rate", self.spec.baud_code(baudrate))
        for name, value in registers.items():
            self._poke(name, value)
        res = self.spec.resolution
        self.raw_ticks: float = float(res // 2 if raw_ticks is None else raw_ticks)
        self.speed_ticks_s = self.spec.max_speed_ticks_s
        #: Physical limits of the joint in raw ticks (a mechanical stop), or None for free rotation.
        self.hard_stops: tuple[float, float] | None = None
        self.overloaded = False
        self.velocity_ticks_s = 0.0
        self._poke("Goal_Position", round(self.present_float()))
        self.pending_write: tuple[int, bytes] | None = None  # REG_WRITE, applied by ACTION

    # --- table access -----------------------------------------------------------------------

    @property
    def is_dynamixel(self) -> bool:
        return self.spec.protocol is Protocol.DYNAMIXEL

    def _poke(self, name: str, value: int) -> None:
        reg = self.spec.register(name)
        self.memory[reg.address : reg.address + reg.size] = reg.encode(value, self.spec.big_endian)

    def peek(self, name: str) -> int:
        """Current value of a register (computed registers refreshed first)."""
        self.refresh()
        reg = self.spec.register(name)
        return reg.decode(self.memory[reg.address : reg.address + reg.size], self.spec.big_endian)

    def _value(self, name: str) -> int:
        reg = self.spec.registers.get(name)
        if reg is None:
            return 0
        return reg.decode(self.memory[reg.address : reg.address + reg.size], self.spec.big_endian)

    @property
    def id(self) -> int:
        return self._value("ID")

    @property
    def baudrate(self) -> int:
        return self.spec.baud_codes.get(self._value("Baud_Rate"), -1)

    @property
    def torque_enabled(self) -> bool:
        return bool(self._value("Torque_Enable"))

    @property
    def homing_offset(self) -> int:
        return self._value("Homing_Offset")

    @property
    def reverse(self) -> bool:
        return self.is_dynamixel and bool(self._value("Drive_Mode") & 1)

    @property
    def goal_position(self) -> int:
        return self._value("Goal_Position")

    @property
    def present_position(self) -> int:
        """The value a read of Present_Position returns now."""
        return round(self.present_float()) if self.is_dynamixel else self._feetech_present()

    def _feetech_present(self) -> int:
        return round(self.present_float()) % self.spec.resolution

    # --- position model -------------------------------------------------------------------

    def present_float(self, raw: float | None = None) -> float:
        raw = self.raw_ticks if raw is None else raw
        res = self.spec.resolution
        if self.is_dynamixel:
            turned = (res - 1 - raw) if self.reverse else raw
            return turned + self.homing_offset
        return (raw - self.homing_offset) % res

    def raw_from_present(self, present: float) -> float:
        res = self.spec.resolution
        if self.is_dynamixel:
            turned = present - self.homing_offset
            return (res - 1 - turned) if self.reverse else turned
        return (present + self.homing_offset) % res

    def set_present(self, present: float) -> None:
        """Move the shaft so that Present_Position reads ``present`` (a hand moving the joint)."""
        self.raw_ticks = self.raw_from_present(present)

    def goal_raw_ticks(self) -> float | None:
        """Where the controller drives the shaft (raw ticks), or None with torque off."""
        return self.raw_from_present(self.goal_position) if self.torque_enabled else None

    def step(self, dt_s: float) -> None:
        """Advance the motor model by ``dt_s``: move towards the goal at the model's speed."""
        if not self.torque_enabled or dt_s <= 0:
            self.velocity_ticks_s = 0.0
            return
        current = self.present_float()
        goal = float(self.goal_position)
        error = goal - current
        limit = self.speed_ticks_s * dt_s
        move = max(-limit, min(limit, error))
        self.velocity_ticks_s = move / dt_s
        self.set_present(current + move)
        if self.hard_stops is not None:
            lo, hi = self.hard_stops
            self.raw_ticks = min(max(self.raw_ticks, lo), hi)

    def set_overload(self, on: bool = True) -> None:
        """Trip (or clear) an overload: torque off, error bits up, temperature high."""
        self.overloaded = on
        if on:
            self._poke("Torque_Enable", 0)

    def error_bits(self) -> int:
        """Feetech status/Status register bits or Dynamixel Hardware_Error_Status bits."""
        bits = 0
        if self.overloaded:
            bits |= 0x20
        if self._value("Present_Temperature") > (
            self._value("Temperature_Limit")
            if self.is_dynamixel
            else self._value("Max_Temperature_Limit")
        ):
            bits |= 0x04
        return bits

    def refresh(self) -> None:
        """Write the computed registers (present position, load, status…) into the table."""
        spec = self.spec
        present = self.present_position
        if spec.protocol is Protocol.DYNAMIXEL:
            self._poke("Present_Position", present)
            self._poke("Present_Velocity", int(self.velocity_ticks_s / 0.229 / 4096 * 60))
            self._poke("Moving", int(abs(self.velocity_ticks_s) > 0))
            self._poke("Present_Temperature", 75 if self.overloaded else AMBIENT_C)
            self._poke("Hardware_Error_Status", self.error_bits())
            self._poke("Present_PWM", 885 if self.overloaded else 0)
        else:
            self._poke("Present_Position", present)
            self._poke("Present_Velocity", int(self.velocity_ticks_s))
            self._poke("Moving", int(abs(self.velocity_ticks_s) > 0))
            self._poke("Present_Temperature", 75 if self.overloaded else AMBIENT_C)
            self._poke("Present_Load", 1000 if self.overloaded else 0)
            self._poke("Status", self.error_bits())

    def status_error(self) -> int:
        """Error byte of a status packet (before protocol errors are added)."""
        bits = self.error_bits()
        if self.is_dynamixel:
            return 0x80 if bits else 0
        return bits

    # --- bus access -----------------------------------------------------------------------

    def read(self, address: int, size: int) -> bytes:
        self.refresh()
        return bytes(self.memory[address : address + size])

    def write(self, address: int, data: bytes) -> WriteResult:
        """Apply a WRITE as the real servo would; returns the protocol error to report, if any."""
        regs = [
            r for r in self.spec.registers.values() if address <= r.address < address + len(data)
        ]
        eeprom = any(r.eeprom for r in regs)
        if self.is_dynamixel:
            if any(r.read_only for r in regs):
                return WriteResult("access")
            if eeprom and self.torque_enabled:
                return WriteResult("access")
        else:
            if eeprom and self._value("Lock") == 1:
                return WriteResult("")  # silently ignored, as the real servo does
            regs = [r for r in regs if not r.read_only]
        old = bytes(self.memory)
        self.memory[address : address + len(data)] = data
        goal = self.spec.registers["Goal_Position"]
        if goal in regs:
            result = self._check_goal()
            if result.error:
                self.memory[:] = old
                return result
        if self.overloaded and self._value("Torque_Enable"):
            self._poke("Torque_Enable", 0)  # cannot re-enable until the overload clears
        return WriteResult("")

    def _check_goal(self) -> WriteResult:
        lo, hi = self._value("Min_Position_Limit"), self._value("Max_Position_Limit")
        goal = self.goal_position
        if self.is_dynamixel:
            if self._value("Operating_Mode") == 3 and not lo <= goal <= hi:
                return WriteResult("limit")
        elif lo < hi:
            self._poke("Goal_Position", min(max(goal, lo), hi))
        return WriteResult("")
