"""Motor-bus errors. Each message names the port, the motors (name and id) and what to do."""

from __future__ import annotations

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


class ServoError(MotorBusError):
    """A servo refused an instruction (status error) or reports a hardware fault."""


class RegisterError(MotorBusError, KeyError):
    """A register name or value does not fit a motor's control table."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
