"""Dynamixel X-series bus (Koch arms), Protocol 2.0, through the vendor's ``dynamixel-sdk``.

The SDK is fenced off here: :class:`_SdkPort` and :func:`_check` are the only places that touch its
camelCase API and integer result codes; everything else sees :class:`MotorBus` and exceptions.
``_SdkPort`` subclasses the SDK's PortHandler for two things the SDK hard-codes:
- the reply timeout (the SDK waits ``2 × 16 ms`` latency-timer slack per packet; here it is the
  bus's reply budget: ``timeout_s`` on the first attempt, longer on retries);
- waiting for bytes sleeps in ``select`` instead of spinning on a non-blocking read, which leaves
  the CPU to the control loop and the video encoder.
USB-serial adapters (U2D2, FTDI) buffer up to 16 ms unless their latency timer is 1 ms: set
``/sys/bus/usb-serial/devices/<tty>/latency_timer`` to 1, or raise ``timeout_s``.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterable
from typing import Any

import dynamixel_sdk as sdk

from bricobot.motors.bus import Motor, MotorBus, MotorHealth, NoReply, open_serial
from bricobot.motors.protocol import dynamixel as dp

#: Hardware_Error_Status bits → plain message.
HARDWARE_ERROR_BITS: dict[int, str] = {
    0x01: "input voltage out of range (check the power supply: 5 V for XL330, 12 V for XL430)",
    0x04: "overheating (let it cool, lower the load or the current limit)",
    0x08: "motor encoder error",
    0x10: "electrical shock (check the wiring and the supply)",
    0x20: "overload (the joint is blocked or the load is too high); reboot the servo to clear",
}


def hardware_error_messages(bits: int) -> list[str]:
    return [text for bit, text in HARDWARE_ERROR_BITS.items() if bits & bit]


class _SdkPort(sdk.PortHandler):  # type: ignore[misc]
    """The SDK's PortHandler with a configurable reply timeout and a sleeping read.

    It also notes when each request goes out and counts stale bytes (replies that came after
    their request had given up) before the SDK flushes them.
    """

    def __init__(self, port_name: str, timeout_ms: float, stats: dict[str, int]) -> None:
        super().__init__(port_name)
        self.is_open: bool = False
        self.timeout_ms = timeout_ms
        self.stats = stats  # the bus's counters ("late" is counted here)
        #: When the last request was sent (monotonic s), to time late replies.
        self.request_sent_s = 0.0

    def clearPort(self) -> None:
        # The SDK calls this right before sending each request.
        if self.ser.in_waiting:
            self.stats["late"] += 1
        self.ser.reset_input_buffer()
        self.request_sent_s = time.monotonic()

    def setupPort(self, cflag_baud: int) -> bool:
        if self.is_open:
            self.closePort()
        self.ser = open_serial(self.port_name, self.baudrate)
        self.is_open = True
        self.ser.reset_input_buffer()
        self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
        return True

    def setPacketTimeout(self, packet_length: int) -> None:
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self.timeout_ms

    def readPort(self, length: int) -> bytes:
        remaining_ms = self.packet_timeout - self.getTimeSinceStart()
        fd = self.ser.fileno()
        ready, _, _ = select.select((fd,), (), (), max(remaining_ms, 0.0) / 1000.0)
        return os.read(fd, length) if ready else b""

    def getCurrentTime(self) -> float:
        return time.monotonic() * 1000.0


def _check(result: int) -> None:
    """SDK result code → NoReply (the one place integer codes are interpreted)."""
    if result == sdk.COMM_SUCCESS:
        return
    if result in (sdk.COMM_RX_TIMEOUT, sdk.COMM_RX_FAIL):
        raise NoReply(corrupted=False)
    if result == sdk.COMM_RX_CORRUPT:
        raise NoReply(corrupted=True)
    raise OSError(f"dynamixel-sdk: {sdk.PacketHandler(2.0).getTxRxResult(result)} ({result})")


class DynamixelBus(MotorBus):
    """Dynamixel Protocol 2.0 servos on one port. See :class:`~bricobot.motors.bus.MotorBus`."""

    family = "dynamixel"
    default_baudrate = 1_000_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._port: _SdkPort | None = None
        self._handler = sdk.PacketHandler(2.0)

    def _open(self) -> None:
        port = _SdkPort(self.port, self.reply_budget_s * 1000.0, self.stats)
        port.baudrate = self.baudrate
        port.setupPort(self.baudrate)
        self._port = port

    def _close(self) -> None:
        if self._port is not None and self._port.is_open:
            self._port.closePort()
        self._port = None

    def _set_baudrate(self, baudrate: int) -> None:
        self.baudrate = baudrate
        if self._port is not None:
            self._port.baudrate = baudrate
            self._port.ser.baudrate = baudrate
            self._port.tx_time_per_byte = 10000.0 / baudrate

    def _set_reply_budget(self, budget_s: float) -> None:
        super()._set_reply_budget(budget_s)
        if self._port is not None:
            self._port.timeout_ms = budget_s * 1000.0

    def _late_replies(self, ids: list[int], wait_s: float) -> dict[int, float]:
        """Status packets of ``ids`` arriving within ``wait_s`` after the last attempt gave up."""
        port = self._p
        fd, parser = port.ser.fileno(), dp.DynamixelParser()
        deadline = time.monotonic() + wait_s
        found: dict[int, float] = {}
        while len(found) < len(ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select((fd,), (), (), remaining)[0]:
                break
            arrived_s = time.monotonic() - port.request_sent_s
            for packet in parser.feed(os.read(fd, 4096)):
                if packet.instruction == dp.STATUS and packet.servo_id in ids:
                    found.setdefault(packet.servo_id, arrived_s)
        return found

    @property
    def _p(self) -> _SdkPort:
        if self._port is None:
            raise OSError(f"{self.port} is not open")
        return self._port

    def broadcast_ping(self, wait_s: float = 0.02) -> tuple[dict[int, int], int]:
        """Ping every id at once: ``({id: model number}, corrupted replies)``.

        Uses the shared codec on the SDK's port: the SDK's broadcastPing always waits ~0.8 s.
        """
        ser = self._p.ser
        ser.reset_input_buffer()
        ser.write(dp.ping(dp.BROADCAST_ID))
        parser = dp.DynamixelParser()
        found: dict[int, int] = {}
        deadline = time.monotonic() + wait_s
        fd = ser.fileno()
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select((fd,), (), (), remaining)
            if ready:
                for packet in parser.feed(os.read(fd, 4096)):
                    if packet.instruction == dp.STATUS and len(packet.params) >= 2:
                        found[packet.servo_id] = int.from_bytes(packet.params[:2], "little")
        return found, parser.bad_frames

    def _ping(self, servo_id: int) -> int:
        model, result, _error = self._handler.ping(self._p, servo_id)
        _check(result)
        return int(model)

    def _read(self, servo_id: int, address: int, size: int) -> tuple[bytes, int]:
        data, result, error = self._handler.readTxRx(self._p, servo_id, address, size)
        _check(result)
        return bytes(data), int(error)

    def _write(self, servo_id: int, address: int, data: bytes) -> int:
        result, error = self._handler.writeTxRx(self._p, servo_id, address, len(data), list(data))
        _check(result)
        return int(error)

    def _sync_read(
        self, ids: list[int], address: int, size: int
    ) -> tuple[dict[int, tuple[bytes, int]], int]:
        # The SDK sends the request. Its receive side (readRx per id) discards every reply after a
        # lost one, so the burst is collected here with the shared codec: every valid reply is
        # kept, and a corrupted one ends the wait as soon as the rest has arrived.
        port = self._p
        result = self._handler.syncReadTx(port, address, size, list(ids), len(ids), False)
        port.is_using = False
        if result != sdk.COMM_SUCCESS:
            _check(result)
        wire_s = (len(ids) * (size + 11) + 14) * 10.0 / self.baudrate
        deadline = time.monotonic() + self.reply_budget_s + wire_s
        parser = dp.DynamixelParser()
        fd = port.ser.fileno()
        wanted = set(ids)
        got: dict[int, tuple[bytes, int]] = {}
        while len(got) + parser.bad_frames < len(wanted):
            # Past the deadline, still read what already arrived (a thread woken late by a busy
            # host must not drop replies that came in time).
            remaining = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select((fd,), (), (), remaining)
            if not ready:
                break
            for packet in parser.feed(os.read(fd, 4096)):
                if (
                    packet.instruction == dp.STATUS
                    and packet.servo_id in wanted
                    and len(packet.params) == size
                ):
                    got[packet.servo_id] = (packet.params, packet.error)
        return got, parser.bad_frames

    def _sync_write(self, address: int, size: int, data_by_id: dict[int, bytes]) -> None:
        params: list[int] = []
        for servo_id, data in data_by_id.items():
            params.append(servo_id)
            params.extend(data)
        result = self._handler.syncWriteTxOnly(self._p, address, size, params, len(params))
        if result != sdk.COMM_SUCCESS:
            _check(result)

    def _error_messages(self, motor: Motor, error: int) -> list[str]:
        return [dp.error_message(error & 0x7F)] if error & 0x7F else []

    def _alert_messages(self, motor: Motor, error: int) -> list[str]:
        if error & dp.ALERT_BIT:
            return ["hardware alert: see read_health() (Hardware_Error_Status)"]
        return []

    def read_health(self, motors: Iterable[str] | None = None) -> dict[str, MotorHealth]:
        names = [m.name for m in self._select(motors)]
        temperature = self.sync_read("Present_Temperature", names)
        voltage = self.sync_read("Present_Input_Voltage", names)
        pwm = self.sync_read("Present_PWM", names)
        hw = self.sync_read("Hardware_Error_Status", names)
        return {
            n: MotorHealth(
                temperature_c=float(temperature[n]),
                voltage_v=voltage[n] / 10.0,
                # PWM duty relative to the factory PWM_Limit (885): a load figure every X model has.
                load_pct=pwm[n] / 885.0 * 100.0,
                errors=hardware_error_messages(hw[n]),
            )
            for n in names
        }
