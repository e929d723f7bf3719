"""Exceptions shared across subpackages. Each message names the thing that failed and the fix."""


class BricobotError(Exception):
    """Base class for bricobot errors a user can act on."""


class DeviceNotConnectedError(BricobotError):
    """A device was used before ``connect()`` or after ``disconnect()``."""


class DeviceAlreadyConnectedError(BricobotError):
    """``connect()`` was called twice."""
