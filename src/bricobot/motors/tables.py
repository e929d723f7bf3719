"""Control tables as typed data: registers, model numbers, defaults and baud codes per servo model.

Each :class:`ModelSpec` lists its registers by name (address, size, EEPROM or RAM, read-only, how
signed values are encoded) and the factory value of each. Drivers check every register name
against these tables before anything goes on the wire; the emulators start from the defaults.
Sources: ``servo_protocols.md`` (Feetech STS/SCS memory map, ROBOTIS e-Manual for the X series).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bricobot.motors.protocol.values import (
    decode_sign_magnitude,
    decode_twos_complement,
    encode_sign_magnitude,
    encode_twos_complement,
    from_bytes,
    to_bytes,
)


class Protocol(str, Enum):
    FEETECH = "feetech"  # STS/SMS: little-endian, sync read available
    FEETECH_SCS = "feetech_scs"  # SCS: big-endian, no sync read
    DYNAMIXEL = "dynamixel"  # Protocol 2.0


@dataclass(frozen=True)
class Register:
    """One control-table entry. ``sign_bit``: Feetech sign-magnitude bit; ``signed``: two's complement."""

    name: str
    address: int
    size: int
    eeprom: bool = False
    read_only: bool = False
    sign_bit: int | None = None
    signed: bool = False

    def encode(self, value: int, big_endian: bool = False) -> bytes:
        """Signed/unsigned value → register bytes; ValueError names the register when it does not fit."""
        try:
            if self.sign_bit is not None:
                word = encode_sign_magnitude(value, self.sign_bit)
            elif self.signed:
                word = encode_twos_complement(value, self.size)
            else:
                word = value
            return to_bytes(word, self.size, big_endian)
        except ValueError as exc:
            raise ValueError(f"value {value} does not fit register {self.name}: {exc}") from None

    def decode(self, data: bytes | bytearray, big_endian: bool = False) -> int:
        word = from_bytes(data, big_endian)
        if self.sign_bit is not None:
            return decode_sign_magnitude(word, self.sign_bit)
        if self.signed:
            return decode_twos_complement(word, self.size)
        return word


@dataclass(frozen=True)
class ModelSpec:
    """Everything model-specific: protocol, model number, resolution, registers, defaults, baud codes."""

    name: str
    protocol: Protocol
    model_number: int
    resolution: int  # encoder steps per turn
    registers: dict[str, Register]
    defaults: dict[str, int]
    baud_codes: dict[int, int]  # Baud_Rate register value → baud rate
    max_speed_ticks_s: float  # no-load speed used by the emulator
    firmware: tuple[int, int] = (3, 10)
    operating_modes: list[int] = field(default_factory=list)
    #: Documented range of each writable register (inclusive, signed where the register is);
    #: a Dynamixel answers a write outside it with a Data Range error. Absent: any value fits.
    value_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Bytes in the control table (its last address + 1), or None where not modelled; a Dynamixel
    #: answers a read past it with a Data Range error.
    table_size: int | None = None

    @property
    def big_endian(self) -> bool:
        return self.protocol is Protocol.FEETECH_SCS

    def register(self, name: str) -> Register:
        """The register called ``name``; KeyError lists this model's registers."""
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(
                f"{self.name} has no register {name!r}; its registers: {', '.join(self.registers)}"
            ) from None

    def baud_code(self, baudrate: int) -> int:
        for code, rate in self.baud_codes.items():
            if rate == baudrate:
                return code
        raise ValueError(
            f"{self.name} cannot run at {baudrate} baud; supported: "
            f"{', '.join(str(b) for b in self.baud_codes.values())}"
        )


def _table(*rows: tuple) -> dict[str, Register]:
    table: dict[str, Register] = {}
    for row in rows:
        name, address, size, *flags = row
        opts = dict(flags[0]) if flags else {}
        table[name] = Register(name, address, size, **opts)
    return table


_E = {"eeprom": True}
_ER = {"eeprom": True, "read_only": True}
_R = {"read_only": True}

FEETECH_BAUD_CODES = {
    0: 1_000_000,
    1: 500_000,
    2: 250_000,
    3: 128_000,
    4: 115_200,
    5: 57_600,
    6: 38_400,
    7: 19_200,
}
DYNAMIXEL_BAUD_CODES = {
    0: 9_600,
    1: 57_600,
    2: 115_200,
    3: 1_000_000,
    4: 2_000_000,
    5: 3_000_000,
    6: 4_000_000,
}

#: EEPROM registers at the same addresses on STS and SCS servos.
_FEETECH_EEPROM_COMMON = (
    ("Firmware_Major_Version", 0, 1, _ER),
    ("Firmware_Minor_Version", 1, 1, _ER),
    ("Model_Number", 3, 2, _ER),
    ("ID", 5, 1, _E),
    ("Baud_Rate", 6, 1, _E),
    ("Return_Delay_Time", 7, 1, _E),
    ("Response_Status_Level", 8, 1, _E),
    ("Min_Position_Limit", 9, 2, _E),
    ("Max_Position_Limit", 11, 2, _E),
    ("Max_Temperature_Limit", 13, 1, _E),
    ("Max_Voltage_Limit", 14, 1, _E),
    ("Min_Voltage_Limit", 15, 1, _E),
    ("Max_Torque_Limit", 16, 2, _E),
    ("Phase", 18, 1, _E),
    ("Unloading_Condition", 19, 1, _E),
    ("LED_Alarm_Condition", 20, 1, _E),
    ("P_Coefficient", 21, 1, _E),
    ("D_Coefficient", 22, 1, _E),
    ("I_Coefficient", 23, 1, _E),
    ("Minimum_Startup_Force", 24, 2, _E),
    ("CW_Dead_Zone", 26, 1, _E),
    ("CCW_Dead_Zone", 27, 1, _E),
)
#: Read-only feedback registers at the same addresses on STS and SCS servos.
_FEETECH_PRESENT = (
    ("Present_Position", 56, 2, {"read_only": True, "sign_bit": 15}),
    ("Present_Velocity", 58, 2, {"read_only": True, "sign_bit": 15}),
    ("Present_Load", 60, 2, {"read_only": True, "sign_bit": 10}),
    ("Present_Voltage", 62, 1, _R),
    ("Present_Temperature", 63, 1, _R),
    ("Status", 65, 1, _R),
    ("Moving", 66, 1, _R),
)

STS_REGISTERS = _table(
    *_FEETECH_EEPROM_COMMON,
    ("Protection_Current", 28, 2, _E),
    ("Angular_Resolution", 30, 1, _E),
    ("Homing_Offset", 31, 2, {"eeprom": True, "sign_bit": 11}),
    ("Operating_Mode", 33, 1, _E),
    ("Protective_Torque", 34, 1, _E),
    ("Protection_Time", 35, 1, _E),
    ("Overload_Torque", 36, 1, _E),
    ("Torque_Enable", 40, 1),
    ("Acceleration", 41, 1),
    ("Goal_Position", 42, 2, {"sign_bit": 15}),
    ("Goal_Time", 44, 2),
    ("Goal_Velocity", 46, 2, {"sign_bit": 15}),
    ("Torque_Limit", 48, 2),
    ("Lock", 55, 1),
    *_FEETECH_PRESENT,
    ("Present_Current", 69, 2, _R),
    ("Maximum_Acceleration", 85, 1),
)

SCS_REGISTERS = _table(
    *_FEETECH_EEPROM_COMMON,
    ("Protective_Torque", 37, 1, _E),
    ("Protection_Time", 38, 1, _E),
    ("Torque_Enable", 40, 1),
    ("Acceleration", 41, 1),
    ("Goal_Position", 42, 2, {"sign_bit": 15}),
    ("Goal_Time", 44, 2),
    ("Goal_Velocity", 46, 2, {"sign_bit": 15}),
    ("Lock", 48, 1),
    *_FEETECH_PRESENT,
)

X_SERIES_REGISTERS = _table(
    ("Model_Number", 0, 2, _ER),
    ("Model_Information", 2, 4, _ER),
    ("Firmware_Version", 6, 1, _ER),
    ("ID", 7, 1, _E),
    ("Baud_Rate", 8, 1, _E),
    ("Return_Delay_Time", 9, 1, _E),
    ("Drive_Mode", 10, 1, _E),
    ("Operating_Mode", 11, 1, _E),
    ("Secondary_ID", 12, 1, _E),
    ("Protocol_Type", 13, 1, _E),
    ("Homing_Offset", 20, 4, {"eeprom": True, "signed": True}),
    ("Moving_Threshold", 24, 4, _E),
    ("Temperature_Limit", 31, 1, _E),
    ("Max_Voltage_Limit", 32, 2, _E),
    ("Min_Voltage_Limit", 34, 2, _E),
    ("PWM_Limit", 36, 2, _E),
    ("Current_Limit", 38, 2, _E),
    ("Acceleration_Limit", 40, 4, _E),
    ("Velocity_Limit", 44, 4, _E),
    ("Max_Position_Limit", 48, 4, _E),
    ("Min_Position_Limit", 52, 4, _E),
    ("Shutdown", 63, 1, _E),
    ("Torque_Enable", 64, 1),
    ("LED", 65, 1),
    ("Status_Return_Level", 68, 1),
    ("Registered_Instruction", 69, 1, _R),
    ("Hardware_Error_Status", 70, 1, _R),
    ("Velocity_I_Gain", 76, 2),
    ("Velocity_P_Gain", 78, 2),
    ("Position_D_Gain", 80, 2),
    ("Position_I_Gain", 82, 2),
    ("Position_P_Gain", 84, 2),
    ("Feedforward_2nd_Gain", 88, 2),
    ("Feedforward_1st_Gain", 90, 2),
    ("Bus_Watchdog", 98, 1),
    ("Goal_PWM", 100, 2, {"signed": True}),
    ("Goal_Current", 102, 2, {"signed": True}),
    ("Goal_Velocity", 104, 4, {"signed": True}),
    ("Profile_Acceleration", 108, 4),
    ("Profile_Velocity", 112, 4),
    ("Goal_Position", 116, 4, {"signed": True}),
    ("Realtime_Tick", 120, 2, _R),
    ("Moving", 122, 1, _R),
    ("Moving_Status", 123, 1, _R),
    ("Present_PWM", 124, 2, {"read_only": True, "signed": True}),
    ("Present_Current", 126, 2, {"read_only": True, "signed": True}),
    ("Present_Velocity", 128, 4, {"read_only": True, "signed": True}),
    ("Present_Position", 132, 4, {"read_only": True, "signed": True}),
    ("Velocity_Trajectory", 136, 4, {"read_only": True, "signed": True}),
    ("Position_Trajectory", 140, 4, {"read_only": True, "signed": True}),
    ("Present_Input_Voltage", 144, 2, _R),
    ("Present_Temperature", 146, 1, _R),
)
# XL430-W250 has no current sensing: no Current_Limit / Goal_Current / Present_Current in practice,
# but Present_Current reads as Present_Load on that model. Keep one layout and drop what is absent.
XL430_REGISTERS = {
    k: v for k, v in X_SERIES_REGISTERS.items() if k not in ("Current_Limit", "Goal_Current")
}

#: Goal registers bounded by a limit register: |goal| ≤ limit, else a Data Limit error (X e-Manual:
#: "Goal Current can not exceed Current Limit"). Goal_Position is bounded in position mode only.
DYNAMIXEL_GOAL_LIMITS = {
    "Goal_PWM": "PWM_Limit",
    "Goal_Current": "Current_Limit",
    "Goal_Velocity": "Velocity_Limit",
}
#: Operating modes in which Goal_Position must lie within Min/Max_Position_Limit (Data Limit).
DYNAMIXEL_LIMITED_POSITION_MODES = (3,)
#: Extended and current-based position modes: Goal_Position within ±256 turns, else Data Range.
DYNAMIXEL_MULTI_TURN_POSITION_MODES = (4, 5)
DYNAMIXEL_MULTI_TURN_GOAL_RANGE = (-1_048_575, 1_048_575)

_GAIN_RANGE = (0, 16_383)
#: Ranges from the XL330-M288 / M077 e-Manual control tables (EEPROM and RAM areas).
_XL330_RANGES = {
    "ID": (0, 252),
    "Baud_Rate": (0, 6),
    "Return_Delay_Time": (0, 254),
    "Drive_Mode": (0, 5),
    "Operating_Mode": (0, 16),
    "Protocol_Type": (2, 22),
    "Homing_Offset": (-1_044_479, 1_044_479),
    "Moving_Threshold": (0, 1_023),
    "Temperature_Limit": (0, 100),
    "Max_Voltage_Limit": (31, 70),
    "Min_Voltage_Limit": (31, 70),
    "PWM_Limit": (0, 885),
    "Current_Limit": (0, 1_750),
    "Velocity_Limit": (0, 2_047),
    "Max_Position_Limit": (0, 4_095),
    "Min_Position_Limit": (0, 4_095),
    "Torque_Enable": (0, 1),
    "LED": (0, 1),
    "Status_Return_Level": (0, 2),
    "Velocity_I_Gain": _GAIN_RANGE,
    "Velocity_P_Gain": _GAIN_RANGE,
    "Position_D_Gain": _GAIN_RANGE,
    "Position_I_Gain": _GAIN_RANGE,
    "Position_P_Gain": _GAIN_RANGE,
    "Feedforward_2nd_Gain": _GAIN_RANGE,
    "Feedforward_1st_Gain": _GAIN_RANGE,
    "Bus_Watchdog": (0, 127),  # 0 disables the watchdog, 1..127 × 20 ms enable it
    "Profile_Acceleration": (0, 32_767),
    "Profile_Velocity": (0, 32_767),
}
#: XL430-W250 e-Manual: where its ranges differ from the XL330's (it has no current sensing).
_XL430_RANGES = {k: v for k, v in _XL330_RANGES.items() if k != "Current_Limit"} | {
    "Baud_Rate": (0, 7),
    "Drive_Mode": (0, 13),
    "Protocol_Type": (1, 2),
    "Max_Voltage_Limit": (60, 140),
    "Min_Voltage_Limit": (60, 140),
    "Velocity_Limit": (0, 1_023),
}
#: Control table sizes (last Indirect Data address + 1) from the same e-Manual pages.
_XL330_TABLE_SIZE = 228
_XL430_TABLE_SIZE = 662

_STS_DEFAULTS = {
    "Firmware_Major_Version": 3,
    "Firmware_Minor_Version": 10,
    "ID": 1,
    "Baud_Rate": 0,
    "Return_Delay_Time": 250,
    "Response_Status_Level": 1,
    "Min_Position_Limit": 0,
    "Max_Position_Limit": 4095,
    "Max_Temperature_Limit": 70,
    "Max_Voltage_Limit": 140,
    "Min_Voltage_Limit": 40,
    "Max_Torque_Limit": 1000,
    "Unloading_Condition": 44,
    "LED_Alarm_Condition": 47,
    "P_Coefficient": 32,
    "D_Coefficient": 32,
    "I_Coefficient": 0,
    "Minimum_Startup_Force": 16,
    "CW_Dead_Zone": 1,
    "CCW_Dead_Zone": 1,
    "Protection_Current": 500,
    "Angular_Resolution": 1,
    "Protective_Torque": 20,
    "Protection_Time": 200,
    "Overload_Torque": 80,
    "Torque_Limit": 1000,
    "Acceleration": 0,
    "Lock": 1,
    "Present_Voltage": 74,
    "Present_Temperature": 30,
    "Maximum_Acceleration": 25,
}
_SCS_DEFAULTS = {
    k: v
    for k, v in _STS_DEFAULTS.items()
    if k in SCS_REGISTERS and k not in ("Max_Position_Limit", "Torque_Limit")
} | {"Max_Position_Limit": 1023, "Present_Voltage": 50}
_X_DEFAULTS = {
    "Firmware_Version": 52,
    "ID": 1,
    "Baud_Rate": 1,
    "Return_Delay_Time": 250,
    "Drive_Mode": 0,
    "Operating_Mode": 3,
    "Protocol_Type": 2,
    "Homing_Offset": 0,
    "Moving_Threshold": 10,
    "Temperature_Limit": 70,
    "Max_Voltage_Limit": 70,
    "Min_Voltage_Limit": 35,
    "PWM_Limit": 885,
    "Current_Limit": 1750,
    "Acceleration_Limit": 32767,
    "Velocity_Limit": 445,
    "Max_Position_Limit": 4095,
    "Min_Position_Limit": 0,
    "Shutdown": 52,
    "Status_Return_Level": 2,
    "Velocity_I_Gain": 1000,
    "Velocity_P_Gain": 100,
    "Position_D_Gain": 0,
    "Position_I_Gain": 0,
    "Position_P_Gain": 400,
    "Bus_Watchdog": 0,
    "Goal_PWM": 885,
    "Goal_Current": 1750,
    "Present_Input_Voltage": 50,
    "Present_Temperature": 30,
}

MODELS: dict[str, ModelSpec] = {
    "sts3215": ModelSpec(
        "sts3215", Protocol.FEETECH, 777, 4096, STS_REGISTERS,
        {**_STS_DEFAULTS, "Model_Number": 777}, FEETECH_BAUD_CODES, 3400.0,
        (3, 10), [0, 1, 2, 3],
    ),
    "sts3250": ModelSpec(
        "sts3250", Protocol.FEETECH, 2825, 4096, STS_REGISTERS,
        {**_STS_DEFAULTS, "Model_Number": 2825, "Present_Voltage": 120}, FEETECH_BAUD_CODES, 3000.0,
        (3, 10), [0, 1, 2, 3],
    ),
    "scs0009": ModelSpec(
        "scs0009", Protocol.FEETECH_SCS, 1284, 1024, SCS_REGISTERS,
        {**_SCS_DEFAULTS, "Model_Number": 1284}, FEETECH_BAUD_CODES, 1000.0,
        (1, 6), [0],
    ),
    "xl330-m288": ModelSpec(
        "xl330-m288", Protocol.DYNAMIXEL, 1200, 4096, X_SERIES_REGISTERS,
        {**_X_DEFAULTS, "Model_Number": 1200}, DYNAMIXEL_BAUD_CODES, 5000.0,
        (52, 0), [0, 1, 3, 4, 5, 16], _XL330_RANGES, _XL330_TABLE_SIZE,
    ),
    "xl330-m077": ModelSpec(
        "xl330-m077", Protocol.DYNAMIXEL, 1190, 4096, X_SERIES_REGISTERS,
        {**_X_DEFAULTS, "Model_Number": 1190, "Velocity_Limit": 1620}, DYNAMIXEL_BAUD_CODES,
        15000.0, (52, 0), [0, 1, 3, 4, 5, 16], _XL330_RANGES, _XL330_TABLE_SIZE,
    ),
    "xl430-w250": ModelSpec(
        "xl430-w250", Protocol.DYNAMIXEL, 1060, 4096, XL430_REGISTERS,
        {
            **{k: v for k, v in _X_DEFAULTS.items() if k in XL430_REGISTERS},
            "Model_Number": 1060,
            "Firmware_Version": 46,
            "Max_Voltage_Limit": 140,
            "Min_Voltage_Limit": 60,
            "Velocity_Limit": 265,
            "Position_P_Gain": 640,
            "Position_D_Gain": 4000,
            "Present_Input_Voltage": 120,
        },
        DYNAMIXEL_BAUD_CODES, 4400.0, (46, 0), [1, 3, 4, 16], _XL430_RANGES, _XL430_TABLE_SIZE,
    ),
}  # fmt: skip


def model_spec(name: str) -> ModelSpec:
    """The spec of ``name``; KeyError lists the supported models."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown servo model {name!r}; supported models: {', '.join(MODELS)}"
        ) from None


def model_by_number(protocol_family: str, number: int) -> ModelSpec | None:
    """Model spec from a model number read on a bus (``"feetech"`` or ``"dynamixel"``), or None."""
    for spec in MODELS.values():
        if spec.model_number == number and spec.protocol.value.startswith(protocol_family):
            return spec
    return None


def _check_tables() -> None:
    """Import-time check: registers do not overlap and fit the table; every default and range
    names a register; every default lies in its documented range."""
    for spec in MODELS.values():
        used: dict[int, str] = {}
        for reg in spec.registers.values():
            for addr in range(reg.address, reg.address + reg.size):
                if addr in used:
                    raise AssertionError(f"{spec.name}: {reg.name} overlaps {used[addr]}")
                used[addr] = reg.name
            if spec.table_size is not None and reg.address + reg.size > spec.table_size:
                raise AssertionError(f"{spec.name}: {reg.name} lies past the table end")
        for name in spec.defaults:
            if name not in spec.registers:
                raise AssertionError(f"{spec.name}: default for unknown register {name}")
        for name, (lo, hi) in spec.value_ranges.items():
            if name not in spec.registers:
                raise AssertionError(f"{spec.name}: range for unknown register {name}")
            if name in spec.defaults and not lo <= spec.defaults[name] <= hi:
                raise AssertionError(f"{spec.name}: default of {name} outside {lo}..{hi}")


_check_tables()
