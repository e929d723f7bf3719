"""Exceptions shared across subpackages. Each message names the thing that failed and the fix."""


class BricobotError(Exception):
    """Base class for bricobot errors a user can act on."""


class DeviceNotConnectedError(BricobotError):
    """A device was used before ``connect()`` or after ``disconnect()``."""


class DeviceAlreadyConnectedError(BricobotError):
    """``connect()`` was called twice."""


def one_line(text: str) -> str:
    """``text`` as one line, for an error printed as ``bricobot <command>: <message>``.

    A line ending in ``:`` runs into the next, indented lines (a list of choices or paths) are
    separated by commas, other lines by ``;``.
    """
    out = ""
    previous_indented = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        indented = raw[:1].isspace()
        if not out:
            out = line
        elif out.endswith(":"):
            out += " " + line
        elif indented and previous_indented:
            out += ", " + line
        else:
            out += "; " + line
        previous_indented = indented
    return out
