"""Motor-bus errors. Each message names the port, the motors (name and id) and what to do.

A transaction that gets nothing back is told apart from one whose replies come too late: the
first is the wiring, the power, the id or the baud rate (or, on a virtual arm, the emulator), the
second is the host (a busy CPU, a USB adapter's latency timer) and is fixed on the computer.
"""

from __future__ import annotations

import os

from bricobot.errors import BricobotError

PERMISSION_FIX = (
    "add yourself to the serial group and log out and back in: `sudo usermod -aG dialout $USER` "
    "(Arch/Fedora: `uucp`), or install a udev rule: "
    '`echo \'KERNEL=="ttyACM[0-9]*", MODE="0666"\' | sudo tee /etc/udev/rules.d/99-bricobot.rules '
    "&& sudo udevadm control --reload && sudo udevadm trigger`"
)


class MotorBusError(BricobotError):
    """Base class of every bus error; ``port`` is the serial port involved."""

    def __init__(self, message: str, port: str = "") -> None:
        super().__init__(message)
        self.port = port


class PortNotFoundError(MotorBusError):
    """The serial port does not exist (unplugged adapter, or a different /dev name)."""


class PortPermissionError(MotorBusError):
    """The serial port exists but this user may not open it."""


class PortBusyError(MotorBusError):
    """Another program holds the port."""


class MotorNotFoundError(MotorBusError):
    """Expected motors did not answer. ``missing`` maps motor name → id."""

    def __init__(self, message: str, port: str = "", missing: dict[str, int] | None = None):
        super().__init__(message, port)
        self.missing = dict(missing or {})


class ModelMismatchError(MotorBusError):
    """A motor answered with a model number other than the configured one."""


class DuplicateIdError(MotorBusError):
    """Two motors share an id (in the config, or on the wire: their replies collide)."""


class BaudRateError(MotorBusError):
    """The motors answer at another baud rate than the configured one."""


class CommunicationError(MotorBusError):
    """A transaction failed after every retry (no reply or corrupted replies)."""

    def __init__(self, message: str, port: str = "", failed: dict[str, int] | None = None):
        super().__init__(message, port)
        self.failed = dict(failed or {})


class NoReplyError(CommunicationError):
    """Nothing came back at all, not even late: a cable, power, id or baud-rate problem (on a
    virtual arm: the emulator is not serving that port). ``failed`` maps motor name → id."""


class LateReplyError(CommunicationError):
    """Replies came, but after the reply budget: the host is busy or the USB adapter buffers
    them (latency timer). ``late_s`` maps motor name → seconds from the request to the reply."""

    def __init__(
        self,
        message: str,
        port: str = "",
        failed: dict[str, int] | None = None,
        late_s: dict[str, float] | None = None,
    ):
        super().__init__(message, port, failed)
        self.late_s = dict(late_s or {})


class ServoError(MotorBusError):
    """A servo refused an instruction (status error) or reports a hardware fault."""


class RegisterError(MotorBusError, KeyError):
    """A register name or value does not fit a motor's control table."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def is_pseudo_terminal(port: str) -> bool:
    """Whether ``port`` is a pseudo-terminal (a virtual arm), where cables and power do not apply."""
    try:
        path = os.path.realpath(port)
        if path.startswith("/dev/pts/"):
            return True
        major = os.major(os.stat(path).st_rdev)
    except (OSError, ValueError):
        return False
    return 136 <= major <= 143  # Unix98 pty slaves


def latency_timer_fix(port: str) -> str:
    """The command setting a USB-serial adapter's latency timer to 1 ms (FTDI adapters such as
    the U2D2 hold replies up to 16 ms by default); "" for ports that have none (CDC-ACM, pty)."""
    name = os.path.basename(os.path.realpath(port))
    if not name.startswith("ttyUSB"):
        return ""
    return f"`echo 1 | sudo tee /sys/bus/usb-serial/devices/{name}/latency_timer`"


def no_reply_fix(port: str, ids: list[int], baudrate: int) -> str:
    """What to check when motors ``ids`` on ``port`` sent nothing at all."""
    which = f"id {ids[0]}" if len(ids) == 1 else f"ids {', '.join(map(str, ids))}"
    scan = f"`bricobot scan port={port}` lists the ids and baud rates that answer"
    if is_pseudo_terminal(port):
        return (
            f"{port} is a virtual arm: check that `bricobot virtual-arm` is still running and "
            f"serves this port with {which} at {baudrate} baud; {scan}."
        )
    them = "that motor" if len(ids) == 1 else "those motors"
    return (
        f"check the cable and power of {them} (a loose daisy-chain cable silences every motor "
        f"after it), and that {which} and {baudrate} baud match the servos; {scan}."
    )


def late_reply_fix(port: str, timeout_s: float, late_s: float, setting: str = "") -> str:
    """What to do when replies on ``port`` arrive ``late_s`` after the request, past the budget.

    ``setting`` is the config key of the bus's reply timeout (e.g. ``robot.reply_timeout_s``);
    without it the keys of a follower and of a leader arm are both named.
    """
    value = max(2 * timeout_s, late_s)
    value = -(-round(value * 1000) // 10) / 100  # up to the next 10 ms, in seconds
    steps = ["close programs that load the CPU (video encoders, a training run, browsers)"]
    if is_pseudo_terminal(port):
        steps[0] += "; the virtual arm's physics runs on the same cores"
    latency = latency_timer_fix(port)
    if latency:
        steps.append(f"set the USB adapter's latency timer to 1 ms: {latency}")
    keys = (
        f"`{setting}={value:g}`"
        if setting
        else f"`robot.reply_timeout_s={value:g}` (follower arm) or "
        f"`teleop.reply_timeout_s={value:g}` (leader arm)"
    )
    steps.append(f"raise the reply timeout: {keys}, now {timeout_s:g} s")
    return "the motors answer but the host reads them too late. Fix: " + "; or ".join(steps) + "."
