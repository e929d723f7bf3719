"""The vendors' own SDKs, unmodified, talk to the emulators: ping, read, write, sync read/write."""

from __future__ import annotations

import dynamixel_sdk as dxl
import scservo_sdk as scs

from bricobot.emulation import VirtualBus, VirtualServo
from tests.emulation.sdk_session import DynamixelPort, FeetechPort


def test_feetech_sdk_against_emulator() -> None:
    servos = [VirtualServo("sts3215", i) for i in range(1, 7)]
    with VirtualBus(servos) as vbus:
        port = FeetechPort(vbus.port)
        assert port.openPort()
        ph = scs.PacketHandler(0)
        model, result, error = ph.ping(port, 3)
        assert (model, result, error) == (777, scs.COMM_SUCCESS, 0)
        assert ph.read2ByteTxRx(port, 2, 56)[:2] == (
            2048,
            scs.COMM_SUCCESS,
        )
        assert ph.write1ByteTxRx(port, 2, 40, 1) == (
            scs.COMM_SUCCESS,
            0,
        )  # torque on
        assert ph.write2ByteTxRx(port, 2, 42, 1500) == (
            scs.COMM_SUCCESS,
            0,
        )
        assert vbus.servo(2).goal_position == 1500

        writer = scs.GroupSyncWrite(port, ph, 42, 2)
        for i in range(1, 7):
            writer.addParam(i, [scs.SCS_LOBYTE(1000 + i), scs.SCS_HIBYTE(1000 + i)])
        assert writer.txPacket() == scs.COMM_SUCCESS
        # A round trip: the broadcast (no reply) has been served before it is answered.
        assert ph.ping(port, 1)[1] == scs.COMM_SUCCESS
        for i in range(1, 7):
            vbus.servo(i).set_present(1000 + i)

        reader = scs.GroupSyncRead(port, ph, 56, 2)
        for i in range(1, 7):
            reader.addParam(i)
        assert reader.txRxPacket() == scs.COMM_SUCCESS
        assert [reader.getData(i, 56, 2) for i in range(1, 7)] == [1000 + i for i in range(1, 7)]
        assert [vbus.servo(i).goal_position for i in range(1, 7)] == [1000 + i for i in range(1, 7)]
        port.closePort()


def test_dynamixel_sdk_against_emulator() -> None:
    servos = [VirtualServo("xl330-m288", i) for i in range(1, 7)]  # factory 57600 baud
    with VirtualBus(servos) as vbus:
        port = DynamixelPort(vbus.port)
        assert port.openPort() and port.setBaudRate(57_600)
        ph = dxl.PacketHandler(2.0)
        assert ph.ping(port, 4) == (
            1200,
            dxl.COMM_SUCCESS,
            0,
        )
        assert ph.read4ByteTxRx(port, 1, 132) == (
            2048,
            dxl.COMM_SUCCESS,
            0,
        )
        assert ph.write4ByteTxRx(port, 1, 20, 100) == (
            dxl.COMM_SUCCESS,
            0,
        )  # homing offset
        assert ph.read4ByteTxRx(port, 1, 132)[0] == 2148
        assert ph.write1ByteTxRx(port, 1, 64, 1) == (
            dxl.COMM_SUCCESS,
            0,
        )  # torque on
        # EEPROM with torque on: the servo answers an access error, like the real one.
        assert ph.write4ByteTxRx(port, 1, 20, 0) == (
            dxl.COMM_SUCCESS,
            7,
        )

        writer = dxl.GroupSyncWrite(port, ph, 116, 4)
        for i in range(2, 7):
            writer.addParam(i, list((1500 + i).to_bytes(4, "little")))
        assert writer.txPacket() == dxl.COMM_SUCCESS
        # A round trip: the broadcast (no reply) has been served before it is answered.
        assert ph.ping(port, 1)[1] == dxl.COMM_SUCCESS
        assert [vbus.servo(i).goal_position for i in range(2, 7)] == [1500 + i for i in range(2, 7)]

        reader = dxl.GroupSyncRead(port, ph, 132, 4)
        for i in range(1, 7):
            reader.addParam(i)
        for i in range(2, 7):
            vbus.servo(i).set_present(1000 + i)
        assert reader.txRxPacket() == dxl.COMM_SUCCESS
        assert [reader.getData(i, 132, 4) for i in range(2, 7)] == [1000 + i for i in range(2, 7)]
        port.closePort()
