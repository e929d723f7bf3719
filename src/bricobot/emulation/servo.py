"""A virtual servo: one model's control table with its factory defaults and its rules.

State that matters to a driver lives in the control table bytes, exactly where the real servo keeps
it. The physical shaft is ``raw_ticks`` (the encoder reading before homing offset and drive mode,
continuous: a hand may push it anywhere). The register semantics follow the real servos:

- Feetech: ``Present_Position = (raw − Homing_Offset) mod resolution``; EEPROM writes are ignored
  while ``Lock`` is 1; goals are clamped to the position limits.
- Dynamixel (Protocol 2.0 e-Manual): ``Present_Position = raw' − turn_base + Homing_Offset``
  where ``raw' = raw`` (or ``resolution − 1 − raw`` with Drive_Mode bit 0 set: reverse) and
  ``turn_base`` is the whole turns forgotten by a CLEAR or a reboot. A refused write changes
  nothing and answers an error number: Access (read-only or undefined address, or EEPROM while
  torque is on), Data Length (only part of an item), Data Range (outside the item's documented
  range) or Data Limit (a goal beyond its limit register). A read past the table's end answers
  Data Range with no data. REG_WRITE/ACTION, REBOOT (torque off, RAM back to its initial values),
  FACTORY_RESET (options 0xFF / 0x01 / 0x02) and CLEAR (multi-turn) work as documented.

With torque on, the shaft moves towards the goal at the model's speed (in the servo's own,
offset coordinates, as its controller does). Overload trips torque off and raises the error bits;
on a Dynamixel only a reboot clears it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bricobot.motors.tables import (
    DYNAMIXEL_GOAL_LIMITS,
    DYNAMIXEL_LIMITED_POSITION_MODES,
    DYNAMIXEL_MULTI_TURN_GOAL_RANGE,
    DYNAMIXEL_MULTI_TURN_POSITION_MODES,
    ModelSpec,
    Protocol,
    Register,
    model_spec,
)

AMBIENT_C = 30
#: CLEAR parameters that reset the multi-turn count (Protocol 2.0 e-Manual, Clear 0x10).
CLEAR_MULTI_TURN = bytes((0x01, 0x44, 0x58, 0x4C, 0x22))
#: FACTORY_RESET options → registers kept (Protocol 2.0 e-Manual, Factory Reset 0x06).
FACTORY_RESET_KEEPS: dict[int, tuple[str, ...]] = {
    0xFF: (),
    0x01: ("ID",),
    0x02: ("ID", "Baud_Rate"),
}


@dataclass
class WriteResult:
    """Outcome of an instruction, as a protocol-neutral code the bus turns into a status byte.

    ``error`` is one of "", "fail", "instruction", "range", "length", "limit", "access" (the
    Protocol 2.0 error numbers 1, 2, 4, 5, 6, 7).
    """

    error: str = ""


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
        self.memory = bytearray(max(256, self.spec.table_size or 0))
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
        #: Whole turns (in ticks) a Dynamixel subtracts from the encoder count since its last
        #: CLEAR or reboot: the shaft does not move, Present_Position drops into one turn.
        self.turn_base_ticks = 0.0
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
            return turned - self.turn_base_ticks + self.homing_offset
        return (raw - self.homing_offset) % res

    def raw_from_present(self, present: float) -> float:
        res = self.spec.resolution
        if self.is_dynamixel:
            turned = present - self.homing_offset + self.turn_base_ticks
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

    def checked_read(self, address: int, size: int) -> tuple[WriteResult, bytes]:
        """A READ as the servo answers it: a Dynamixel refuses (Data Range, no data) a read that
        runs past the end of its control table instead of answering a short packet."""
        end = self.spec.table_size
        if self.is_dynamixel and end is not None and address + size > end:
            return WriteResult("range"), b""
        return WriteResult(""), self.read(address, size)

    def write(self, address: int, data: bytes) -> WriteResult:
        """Apply a WRITE as the real servo would; returns the protocol error to report, if any."""
        if self.is_dynamixel:
            return self._write_dynamixel(address, data)
        return self._write_feetech(address, data)

    def _touched(self, address: int, size: int) -> list[Register]:
        """Registers that share at least one byte with ``address .. address + size − 1``."""
        return [
            r
            for r in self.spec.registers.values()
            if r.address < address + size and address < r.address + r.size
        ]

    def _write_feetech(self, address: int, data: bytes) -> WriteResult:
        regs = self._touched(address, len(data))
        if any(r.eeprom for r in regs) and self._value("Lock") == 1:
            return WriteResult("")  # silently ignored, as the real servo does
        self.memory[address : address + len(data)] = data
        goal = self.spec.registers["Goal_Position"]
        lo, hi = self._value("Min_Position_Limit"), self._value("Max_Position_Limit")
        if goal in regs and lo < hi:
            self._poke("Goal_Position", min(max(self.goal_position, lo), hi))
        self._keep_torque_off_while_overloaded()
        return WriteResult("")

    def _write_dynamixel(self, address: int, data: bytes) -> WriteResult:
        """All or nothing: checks access and length, stores, checks values, restores on error."""
        regs = self._touched(address, len(data))
        result = self._check_access(address, len(data), regs)
        if result.error:
            return result
        old = bytes(self.memory)
        self.memory[address : address + len(data)] = data
        result = self._check_values(regs)
        if result.error:
            self.memory[:] = old
            return result
        self._keep_torque_off_while_overloaded()
        return WriteResult("")

    def _check_access(self, address: int, size: int, regs: list[Register]) -> WriteResult:
        """Access error: read-only item, undefined address, or EEPROM with torque on. Data Length
        error: a write that covers only part of an item (or nothing at all)."""
        defined = sum(
            min(r.address + r.size, address + size) - max(r.address, address) for r in regs
        )
        if defined < size or any(r.read_only for r in regs):
            return WriteResult("access")
        if any(r.eeprom for r in regs) and self.torque_enabled:
            return WriteResult("access")
        if size == 0 or any(
            r.address < address or r.address + r.size > address + size for r in regs
        ):
            return WriteResult("length")
        return WriteResult("")

    def _check_values(self, regs: list[Register]) -> WriteResult:
        """Data Range: outside the item's documented range (or an unsupported operating mode).
        Data Limit: a goal beyond its limit register."""
        for reg in regs:
            result = self._check_value(reg.name, self._value(reg.name))
            if result.error:
                return result
        return WriteResult("")

    def _check_value(self, name: str, value: int) -> WriteResult:
        lo, hi = self.spec.value_ranges.get(name, (value, value))
        if not lo <= value <= hi:
            return WriteResult("range")
        if name == "Operating_Mode" and value not in self.spec.operating_modes:
            return WriteResult("range")
        limit = DYNAMIXEL_GOAL_LIMITS.get(name)
        if limit in self.spec.registers and abs(value) > self._value(str(limit)):
            return WriteResult("limit")
        if name == "Goal_Position":
            return self._check_goal_position()
        return WriteResult("")

    def _check_goal_position(self) -> WriteResult:
        """Goal_Position's range depends on the operating mode (e-Manual, Goal Position(116));
        other modes do not use it and the e-Manual gives it no range there."""
        mode, goal = self._value("Operating_Mode"), self.goal_position
        if mode in DYNAMIXEL_LIMITED_POSITION_MODES:
            lo, hi = self._value("Min_Position_Limit"), self._value("Max_Position_Limit")
            return WriteResult("" if lo <= goal <= hi else "limit")
        if mode in DYNAMIXEL_MULTI_TURN_POSITION_MODES:
            lo, hi = DYNAMIXEL_MULTI_TURN_GOAL_RANGE
            return WriteResult("" if lo <= goal <= hi else "range")
        return WriteResult("")

    def _keep_torque_off_while_overloaded(self) -> None:
        if self.overloaded and self._value("Torque_Enable"):
            self._poke("Torque_Enable", 0)  # cannot re-enable until the overload clears

    # --- instructions beyond read and write ----------------------------------------------------

    def register_write(self, address: int, data: bytes) -> WriteResult:
        """REG_WRITE: hold the write for ACTION. A Dynamixel checks it now (a refused write is not
        registered) and shows it in Registered_Instruction."""
        if self.is_dynamixel:
            snapshot = bytes(self.memory)
            result = self.write(address, data)
            self.memory[:] = snapshot
            if result.error:
                return result
            self._poke("Registered_Instruction", 1)
        self.pending_write = (address, bytes(data))
        return WriteResult("")

    def action(self) -> WriteResult:
        """ACTION: apply the registered write; a Dynamixel with none answers Instruction Error."""
        if self.pending_write is None:
            return WriteResult("instruction" if self.is_dynamixel else "")
        address, data = self.pending_write
        self.pending_write = None
        if self.is_dynamixel:
            self._poke("Registered_Instruction", 0)
        return self.write(address, data)

    def reboot(self) -> WriteResult:
        """REBOOT (Dynamixel): hardware errors cleared, torque off, every RAM item back to its
        initial value, Present_Position back within one turn (the e-Manual's power-on state)."""
        self.set_overload(False)
        self.pending_write = None
        for reg in self.spec.registers.values():
            if not reg.eeprom:
                self.memory[reg.address : reg.address + reg.size] = bytes(reg.size)
                if reg.name in self.spec.defaults:
                    self._poke(reg.name, self.spec.defaults[reg.name])
        for goal, limit in DYNAMIXEL_GOAL_LIMITS.items():
            if goal in self.spec.registers and goal != "Goal_Velocity":
                self._poke(goal, self._value(limit))  # Goal PWM / Current start at their limits
        self._forget_turns()
        self._poke("Goal_Position", round(self.present_float()))
        return WriteResult("")

    def factory_reset(self, option: int) -> WriteResult:
        """FACTORY_RESET (Dynamixel): every item back to its factory default except those the
        option keeps (0xFF: none, 0x01: ID, 0x02: ID and baud rate), then a reboot."""
        if option not in FACTORY_RESET_KEEPS:
            return WriteResult("range")
        kept = {name: self._value(name) for name in FACTORY_RESET_KEEPS[option]}
        self.memory[:] = bytes(len(self.memory))
        for name, value in {**self.spec.defaults, **kept}.items():
            self._poke(name, value)
        return self.reboot()

    def clear(self, params: bytes) -> WriteResult:
        """CLEAR (Dynamixel): with the documented parameters, reset the multi-turn count so that
        Present_Position lies within one turn; refused with Result Fail while the servo moves."""
        if len(params) != len(CLEAR_MULTI_TURN):
            return WriteResult("length")
        if bytes(params) != CLEAR_MULTI_TURN:
            return WriteResult("range")
        if self.velocity_ticks_s != 0.0:
            return WriteResult("fail")
        self._forget_turns()
        return WriteResult("")

    def _forget_turns(self) -> None:
        """Drop whole turns from the encoder count: Present_Position − Homing_Offset ∈ [0, res)."""
        res = self.spec.resolution
        counted = self.present_float() - self.homing_offset + self.turn_base_ticks
        self.turn_base_ticks = (counted // res) * res
