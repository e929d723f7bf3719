"""Every Protocol 2.0 instruction the vendor's ``dynamixel_sdk`` offers, driven through the SDK over
the emulator's pty, checked against the Robotis e-Manual (Protocol 2.0 page and the XL330 / XL430
control tables): reply content, error numbers (1 result fail, 2 instruction, 4 data range, 5 data
length, 6 data limit, 7 access) and the hardware alert bit 0x80.
"""

from __future__ import annotations

from collections.abc import Iterator

import dynamixel_sdk as dxl
import pytest

from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.motors.protocol import dynamixel as dp
from tests.emulation.sdk_session import DynamixelPort, next_status

OK = dxl.COMM_SUCCESS
RESULT_FAIL, INSTRUCTION, DATA_RANGE, DATA_LENGTH, DATA_LIMIT, ACCESS = 1, 2, 4, 5, 6, 7
ALERT = 0x80
# Addresses from the X-series control table.
ID, BAUD_RATE, RETURN_DELAY, OPERATING_MODE, HOMING_OFFSET = 7, 8, 9, 11, 20
MAX_POSITION_LIMIT, TORQUE_ENABLE, LED = 48, 64, 65
REGISTERED_INSTRUCTION, HARDWARE_ERROR_STATUS = 69, 70
PROFILE_VELOCITY, GOAL_POSITION, PRESENT_POSITION, PRESENT_TEMPERATURE = 112, 116, 132, 146
EXTENDED_POSITION = 4
TURN = 4096


class Session:
    """One SDK port and packet handler on a virtual bus."""

    def __init__(self, vbus: VirtualBus, baudrate: int = 57_600) -> None:
        self.vbus = vbus
        self.port = DynamixelPort(vbus.port)
        assert self.port.openPort() and self.port.setBaudRate(baudrate)
        self.ph = dxl.PacketHandler(2.0)

    def write(self, servo_id: int, address: int, value: int, size: int) -> int:
        """WRITE ``value`` (little-endian, two's complement) and return the status error byte."""
        data = list((value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
        result, error = self.ph.writeTxRx(self.port, servo_id, address, size, data)
        assert result == OK
        return int(error)

    def read(self, servo_id: int, address: int, size: int) -> tuple[list[int], int]:
        """READ: ``(data bytes, status error byte)``."""
        data, result, error = self.ph.readTxRx(self.port, servo_id, address, size)
        assert result == OK
        return list(data), int(error)

    def value(self, servo_id: int, address: int, size: int) -> int:
        """READ of one item (1-byte items unsigned, wider ones two's complement, as in the X
        table); the status must carry no error number."""
        data, error = self.read(servo_id, address, size)
        assert error & 0x7F == 0 and len(data) == size
        return int.from_bytes(bytes(data), "little", signed=size > 1)

    def round_trip(self, servo_id: int = 1) -> None:
        """A PING answered: every instruction sent before it (broadcasts too) has been served."""
        assert self.ph.ping(self.port, servo_id)[1] == OK


@pytest.fixture
def bus() -> Iterator[Session]:
    servos = [VirtualServo("xl330-m288", i) for i in (1, 2, 3)]  # factory: 57600 baud
    with VirtualBus(servos) as vbus:
        session = Session(vbus)
        yield session
        session.port.closePort()


# --- Bulk Read / Bulk Write ---------------------------------------------------------------------


def test_bulk_read_answers_each_id_its_own_item_in_the_order_asked(bus: Session) -> None:
    with bus.vbus.locked():
        bus.vbus.servo(1).set_present(1234)
    reader = dxl.GroupBulkRead(bus.port, bus.ph)
    assert reader.addParam(3, ID, 1)
    assert reader.addParam(1, PRESENT_POSITION, 4)
    assert reader.addParam(2, PRESENT_TEMPERATURE, 1)
    assert reader.txRxPacket() == OK  # the SDK reads replies in this order
    assert reader.getData(3, ID, 1) == 3
    assert reader.getData(1, PRESENT_POSITION, 4) == 1234
    assert reader.getData(2, PRESENT_TEMPERATURE, 1) == 30


def _bulk_read_two(bus: Session, param: list[int]) -> tuple[list, int]:
    """Bulk read of ids 1 then 2: ``(replies, result)``, each reply ``(data, error)``."""
    result = bus.ph.bulkReadTx(bus.port, param, len(param), False)
    replies = []
    for servo_id, size in ((1, param[3]), (2, param[8])):
        if result == OK:
            data, result, error = bus.ph.readRx(bus.port, servo_id, size)
            replies.append((list(data), error))
    return replies, result


def test_bulk_read_past_the_table_end_answers_data_range_for_that_id(bus: Session) -> None:
    # id 1: 16 bytes from 220 (the XL330 table ends at 227); id 2: Present_Position.
    param = [1, 220, 0, 16, 0, 2, PRESENT_POSITION, 0, 4, 0]
    replies, result = _bulk_read_two(bus, param)
    assert result == OK
    assert [error for _, error in replies] == [DATA_RANGE, 0]
    assert replies[1][0] == [0x00, 0x08, 0, 0]  # 2048 = 0x800


def test_bulk_write_applies_each_entry_and_sends_no_status(bus: Session) -> None:
    writer = dxl.GroupBulkWrite(bus.port, bus.ph)
    assert writer.addParam(1, GOAL_POSITION, 4, list((1000).to_bytes(4, "little")))
    assert writer.addParam(2, LED, 1, [1])
    assert writer.addParam(3, PROFILE_VELOCITY, 4, list((40_000).to_bytes(4, "little")))
    assert writer.txPacket() == OK
    bus.port.ser.write(dp.ping(2))  # raw, so that every byte after the bulk write is seen
    assert [p.servo_id for p in next_status(bus.port, 2)] == [2]  # only the ping's status
    assert bus.value(1, GOAL_POSITION, 4) == 1000
    assert bus.value(2, LED, 1) == 1
    assert bus.value(3, PROFILE_VELOCITY, 4) == 0  # 40000 is beyond 0..32767: refused


# --- Reboot, hardware error -------------------------------------------------------------------


def test_reboot_turns_torque_off_resets_ram_and_keeps_eeprom(bus: Session) -> None:
    assert bus.write(1, OPERATING_MODE, EXTENDED_POSITION, 1) == 0
    assert bus.write(1, HOMING_OFFSET, 100, 4) == 0
    with bus.vbus.locked():
        bus.vbus.servo(1).set_present(3 * TURN + 2148)  # a hand turned it three turns on
    assert bus.write(1, GOAL_POSITION, 3 * TURN + 2148, 4) == 0
    for address, value, size in ((TORQUE_ENABLE, 1, 1), (LED, 1, 1), (PROFILE_VELOCITY, 200, 4)):
        assert bus.write(1, address, value, size) == 0
    assert bus.ph.reboot(bus.port, 1) == (OK, 0)
    assert bus.value(1, TORQUE_ENABLE, 1) == 0
    assert bus.value(1, LED, 1) == 0
    assert bus.value(1, PROFILE_VELOCITY, 4) == 0
    assert bus.value(1, OPERATING_MODE, 1) == EXTENDED_POSITION  # EEPROM survives
    assert bus.value(1, HOMING_OFFSET, 4) == 100
    # "reset to an absolute position value within one full rotation ... when rebooted",
    # still shifted by the homing offset.
    assert bus.value(1, PRESENT_POSITION, 4) == 2148


def test_hardware_error_sets_the_alert_bit_until_a_reboot(bus: Session) -> None:
    assert bus.write(1, TORQUE_ENABLE, 1, 1) == 0
    with bus.vbus.locked():
        bus.vbus.servo(1).set_overload()
    data, error = bus.read(1, HARDWARE_ERROR_STATUS, 1)
    assert data[0] & 0x20 and error == ALERT  # overload bit; alert in the status error byte
    assert bus.read(2, HARDWARE_ERROR_STATUS, 1) == ([0], 0)  # only the faulty servo
    assert bus.write(1, TORQUE_ENABLE, 1, 1) == ALERT
    assert bus.read(1, TORQUE_ENABLE, 1) == ([0], ALERT)  # "REBOOT is the only method"
    result, error = bus.ph.reboot(bus.port, 1)
    assert result == OK and error & 0x7F == 0
    assert bus.read(1, HARDWARE_ERROR_STATUS, 1) == ([0], 0)
    assert bus.write(1, TORQUE_ENABLE, 1, 1) == 0
    assert bus.read(1, TORQUE_ENABLE, 1) == ([1], 0)


# --- Read past the end, refused writes --------------------------------------------------------


@pytest.mark.parametrize(("model", "table_size"), [("xl330-m288", 228), ("xl430-w250", 662)])
def test_read_past_the_table_end_answers_data_range_and_no_data(
    model: str, table_size: int
) -> None:
    with VirtualBus([VirtualServo(model, 1)]) as vbus:
        bus = Session(vbus)
        assert bus.read(1, table_size - 4, 4) == ([0, 0, 0, 0], 0)  # the last 4 bytes exist
        assert bus.read(1, table_size - 2, 4)[1] == DATA_RANGE
        assert bus.read(1, 1000, 1)[1] == DATA_RANGE
        bus.port.ser.write(dp.read(1, table_size - 2, 4))  # raw: the status carries no data
        assert [(p.error, p.params) for p in next_status(bus.port, 1)] == [(DATA_RANGE, b"")]
        bus.port.closePort()


# (what, writes before as (address, value, size), address, size, value, error number): the
# e-Manual's error table applied to the XL330 control table (factory limits: position 0..4095,
# velocity 445, current 1750, PWM 885).
REFUSED = [
    ("goal above Max Position Limit", [], GOAL_POSITION, 4, 4096, DATA_LIMIT),
    ("goal above a lowered limit", [(MAX_POSITION_LIMIT, 3000, 4)], GOAL_POSITION, 4, 3001,
     DATA_LIMIT),
    ("goal beyond 256 turns", [(OPERATING_MODE, 4, 1)], GOAL_POSITION, 4, 1_048_576, DATA_RANGE),
    ("goal velocity above Velocity Limit", [], 104, 4, -446, DATA_LIMIT),
    ("goal current above Current Limit", [], 102, 2, 1751, DATA_LIMIT),
    ("goal PWM above PWM Limit", [], 100, 2, 886, DATA_LIMIT),
    ("id 253", [], ID, 1, 253, DATA_RANGE),
    ("baud rate code 7", [], BAUD_RATE, 1, 7, DATA_RANGE),
    ("return delay 255", [], RETURN_DELAY, 1, 255, DATA_RANGE),
    ("max voltage 7.1 V", [], 32, 2, 71, DATA_RANGE),
    ("velocity limit 2048", [], 44, 4, 2048, DATA_RANGE),
    ("unsupported operating mode 2", [], OPERATING_MODE, 1, 2, DATA_RANGE),
    ("profile velocity 32768", [], PROFILE_VELOCITY, 4, 32_768, DATA_RANGE),
    ("half of Goal Position", [], GOAL_POSITION, 2, 100, DATA_LENGTH),
    ("last half of Goal Position", [], GOAL_POSITION + 2, 2, 1, DATA_LENGTH),
    ("half of Homing Offset", [], HOMING_OFFSET, 2, 5, DATA_LENGTH),
    ("read-only Present Position", [], PRESENT_POSITION, 4, 0, ACCESS),
    ("read-only Registered Instruction", [], REGISTERED_INSTRUCTION, 1, 1, ACCESS),
    ("undefined address 14", [], 14, 1, 1, ACCESS),
    ("EEPROM with torque on", [(TORQUE_ENABLE, 1, 1)], HOMING_OFFSET, 4, 0, ACCESS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "address", "size", "value", "error"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_refused_write_answers_its_error_and_changes_nothing(
    bus: Session, before: list, address: int, size: int, value: int, error: int
) -> None:
    for item in before:
        assert bus.write(1, *item) == 0
    stored = bus.read(1, address, size)
    assert bus.write(1, address, value, size) == error
    assert bus.read(1, address, size) == stored


ACCEPTED = [
    ("goal at Max Position Limit", [], GOAL_POSITION, 4, 4095),
    ("goal at -256 turns", [(OPERATING_MODE, 4, 1)], GOAL_POSITION, 4, -1_048_575),
    ("goal velocity at -Velocity Limit", [], 104, 4, -445),
    ("homing offset at its minimum", [], HOMING_OFFSET, 4, -1_044_479),
    ("PWM operating mode", [], OPERATING_MODE, 1, 16),
    ("EEPROM after torque off", [(TORQUE_ENABLE, 1, 1), (TORQUE_ENABLE, 0, 1)], HOMING_OFFSET,
     4, 7),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "address", "size", "value"),
    [case[1:] for case in ACCEPTED],
    ids=[case[0] for case in ACCEPTED],
)
def test_write_within_range_and_limits_is_stored(
    bus: Session, before: list, address: int, size: int, value: int
) -> None:
    for item in before:
        assert bus.write(1, *item) == 0
    assert bus.write(1, address, value, size) == 0
    assert bus.value(1, address, size) == value


# --- Factory Reset ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "servo_id", "baudrate"),
    [(0xFF, 1, 57_600), (0x01, 7, 57_600), (0x02, 7, 1_000_000)],
    ids=["0xFF reset all", "0x01 keep ID", "0x02 keep ID and baud rate"],
)
def test_factory_reset_restores_defaults_except_what_the_option_keeps(
    option: int, servo_id: int, baudrate: int
) -> None:
    with VirtualBus([VirtualServo("xl330-m288", 7, baudrate=1_000_000)]) as vbus:
        bus = Session(vbus, 1_000_000)
        for address, value, size in ((HOMING_OFFSET, 300, 4), (RETURN_DELAY, 0, 1), (LED, 1, 1)):
            assert bus.write(7, address, value, size) == 0
        assert bus.ph.factoryReset(bus.port, 7, option) == (OK, 0)  # answered from the old id
        assert bus.port.setBaudRate(baudrate)
        assert bus.value(servo_id, ID, 1) == servo_id
        assert bus.value(servo_id, HOMING_OFFSET, 4) == 0
        assert bus.value(servo_id, RETURN_DELAY, 1) == 250
        assert bus.value(servo_id, LED, 1) == 0
        bus.port.closePort()


def test_broadcast_factory_reset_all_is_ignored_but_keep_id_options_apply(bus: Session) -> None:
    for servo_id in (1, 2):
        assert bus.write(servo_id, HOMING_OFFSET, 300, 4) == 0
    assert bus.ph.factoryReset(bus.port, dp.BROADCAST_ID, 0xFF)[0] == OK  # no status to wait for
    bus.round_trip()
    assert [bus.value(i, HOMING_OFFSET, 4) for i in (1, 2)] == [300, 300]  # firmware ≥ 42
    assert bus.ph.factoryReset(bus.port, dp.BROADCAST_ID, 0x02)[0] == OK
    bus.round_trip()
    assert [bus.value(i, HOMING_OFFSET, 4) for i in (1, 2)] == [0, 0]
    assert [bus.value(i, ID, 1) for i in (1, 2)] == [1, 2]


# --- Clear ------------------------------------------------------------------------------------


def test_clear_resets_the_multi_turn_count_within_one_turn(bus: Session) -> None:
    assert bus.write(1, OPERATING_MODE, EXTENDED_POSITION, 1) == 0
    assert bus.write(1, HOMING_OFFSET, 1000, 4) == 0
    with bus.vbus.locked():
        bus.vbus.servo(1).set_present(2 * TURN + 1500)  # turned by hand, two turns on
    assert bus.value(1, PRESENT_POSITION, 4) == 2 * TURN + 1500
    assert bus.ph.clearMultiTurn(bus.port, 1) == (OK, 0)
    assert bus.value(1, PRESENT_POSITION, 4) == 1500  # within one turn, offset still applied


def test_clear_while_moving_answers_result_fail(bus: Session) -> None:
    assert bus.write(1, OPERATING_MODE, EXTENDED_POSITION, 1) == 0
    with bus.vbus.locked():
        bus.vbus.servo(1).set_present(2 * TURN + 100)
    assert bus.write(1, GOAL_POSITION, 200 * TURN, 4) == 0  # far away: it keeps moving
    assert bus.write(1, TORQUE_ENABLE, 1, 1) == 0
    bus.round_trip()  # the servo has started
    assert bus.ph.clearMultiTurn(bus.port, 1) == (OK, RESULT_FAIL)
    assert bus.value(1, PRESENT_POSITION, 4) > 2 * TURN + 100  # count kept: moving on from there


# --- Reg Write / Action -----------------------------------------------------------------------


def test_reg_write_waits_for_action(bus: Session) -> None:
    goal = list((3000).to_bytes(4, "little"))
    reg = lambda: bus.ph.regWriteTxRx(bus.port, 1, GOAL_POSITION, 4, goal)  # noqa: E731
    assert reg() == (OK, 0)
    assert bus.value(1, REGISTERED_INSTRUCTION, 1) == 1
    assert bus.value(1, GOAL_POSITION, 4) == 2048  # not applied yet
    assert bus.ph.action(bus.port, 1) == OK  # the SDK sends it and does not wait
    assert [(p.servo_id, p.error, p.params) for p in next_status(bus.port, 1)] == [(1, 0, b"")]
    assert bus.value(1, GOAL_POSITION, 4) == 3000
    assert bus.value(1, REGISTERED_INSTRUCTION, 1) == 0
    assert bus.ph.action(bus.port, 1) == OK  # nothing registered any more
    assert [(p.servo_id, p.error) for p in next_status(bus.port, 1)] == [(1, INSTRUCTION)]


def test_reg_write_is_checked_when_registered(bus: Session) -> None:
    assert bus.write(1, TORQUE_ENABLE, 1, 1) == 0
    reg = lambda: bus.ph.regWriteTxRx(bus.port, 1, HOMING_OFFSET, 4, [0, 0, 0, 0])  # noqa: E731
    assert reg() == (OK, ACCESS)  # EEPROM while torque is on
    assert bus.value(1, REGISTERED_INSTRUCTION, 1) == 0


def test_broadcast_action_moves_every_registered_servo_at_once(bus: Session) -> None:
    for servo_id in (1, 2, 3):
        goal = list((1000 + servo_id).to_bytes(4, "little"))
        reg = lambda i=servo_id, g=goal: bus.ph.regWriteTxRx(bus.port, i, GOAL_POSITION, 4, g)  # noqa: E731
        assert reg() == (OK, 0)
    assert [bus.vbus.servo(i).goal_position for i in (1, 2, 3)] == [2048] * 3
    assert bus.ph.action(bus.port, dp.BROADCAST_ID) == OK
    bus.round_trip()
    assert [bus.value(i, GOAL_POSITION, 4) for i in (1, 2, 3)] == [1001, 1002, 1003]
