"""The Feetech instructions beyond read and write, driven through the vendor's ``scservo_sdk``:
REG_WRITE then ACTION, and the EEPROM write protection of the Lock register. (The SDK offers no
reboot or reset for Feetech servos.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import scservo_sdk as scs

from bricobot.emulation import VirtualBus, VirtualServo
from tests.emulation.sdk_session import FeetechPort

OK = scs.COMM_SUCCESS
ID, GOAL_POSITION, LOCK = 5, 42, 55


class Session:
    """One SDK port and packet handler on a virtual Feetech bus."""

    def __init__(self, vbus: VirtualBus) -> None:
        self.vbus = vbus
        self.port = FeetechPort(vbus.port)
        assert self.port.openPort()
        self.ph = scs.PacketHandler(0)

    def write1(self, servo_id: int, address: int, value: int) -> int:
        result, error = self.ph.write1ByteTxRx(self.port, servo_id, address, value)
        assert result == OK
        return int(error)

    def read(self, servo_id: int, address: int, size: int) -> int:
        read = {1: self.ph.read1ByteTxRx, 2: self.ph.read2ByteTxRx}[size]
        value, result, error = read(self.port, servo_id, address)
        assert (result, error) == (OK, 0)
        return int(value)


@pytest.fixture
def bus() -> Iterator[Session]:
    with VirtualBus([VirtualServo("sts3215", i) for i in (1, 2)]) as vbus:
        session = Session(vbus)
        yield session
        session.port.closePort()


def _goal(value: int) -> list[int]:
    return [scs.SCS_LOBYTE(value), scs.SCS_HIBYTE(value)]


def test_reg_write_waits_for_action(bus: Session) -> None:
    reg = lambda: bus.ph.regWriteTxRx(bus.port, 1, GOAL_POSITION, 2, _goal(1500))  # noqa: E731
    assert reg() == (OK, 0)
    assert bus.read(1, GOAL_POSITION, 2) == 2048  # registered, not applied
    assert bus.ph.action(bus.port, 1) == OK  # answered
    assert bus.read(1, GOAL_POSITION, 2) == 1500


def test_broadcast_action_applies_every_registered_write(bus: Session) -> None:
    for servo_id in (1, 2):
        reg = lambda i=servo_id: bus.ph.regWriteTxRx(  # noqa: E731
            bus.port, i, GOAL_POSITION, 2, _goal(1000 + i)
        )
        assert reg() == (OK, 0)
    assert bus.ph.action(bus.port, scs.BROADCAST_ID) == OK  # broadcast: no status to wait for
    assert [bus.read(i, GOAL_POSITION, 2) for i in (1, 2)] == [1001, 1002]


def test_eeprom_is_write_protected_while_lock_is_1(bus: Session) -> None:
    assert bus.write1(1, ID, 9) == 0  # answered, but ignored: Lock is 1 at power-on
    assert bus.read(1, ID, 1) == 1
    assert bus.write1(1, LOCK, 0) == 0
    assert bus.ph.write1ByteTxRx(bus.port, 1, ID, 9) == (OK, 0)  # answered from the old id
    assert bus.read(9, ID, 1) == 9
    assert bus.write1(9, LOCK, 1) == 0
    assert bus.write1(9, ID, 4) == 0
    assert bus.read(9, ID, 1) == 9
