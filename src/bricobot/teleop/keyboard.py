"""Terminal keyboard: drive joints with keys, and next / re-record / stop keys for the recorder.

Works over SSH and without a desktop: keys are read from a terminal (stdin by default, or any tty
or pipe given by path) put in non-canonical, no-echo mode with ``termios``, polled with ``select``
so reading never blocks the control loop. Ctrl-C still raises ``KeyboardInterrupt`` (the terminal
keeps generating signals), so the runtime's shutdown path runs as usual. The terminal settings are
restored on disconnect.

One :class:`KeyReader` can be shared: :class:`KeyboardTeleop` takes the joint keys and leaves the
rest for :class:`KeyboardEvents` (→ or ``n``: next episode, ← or ``b``: re-record, Esc or ``x``:
stop), so one terminal drives the arm and the recorder at once.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import os
import select
import sys
import termios
from collections.abc import Callable
from dataclasses import dataclass, field

from bricobot.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError
from bricobot.robots.base import FeatureSpec
from bricobot.teleop.base import Teleoperator

SO101_JOINTS = [
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
]

#: Escape sequences of the keys the recorder uses, as terminals send them.
ESCAPE_SEQUENCES = {
    b"\x1b[A": "up",
    b"\x1b[B": "down",
    b"\x1b[C": "right",
    b"\x1b[D": "left",
    b"\x1bOA": "up",
    b"\x1bOB": "down",
    b"\x1bOC": "right",
    b"\x1bOD": "left",
}
#: How long a lone ESC byte waits for the rest of an escape sequence before it counts as Esc.
ESC_WAIT_S = 0.03


class KeyReader:
    """Non-blocking key reader on a terminal or pipe; keys come out as names.

    Names: printable characters as themselves (``"a"``), ``"up" "down" "left" "right"``, ``"esc"``,
    ``"enter"``, ``"space"``, ``"backspace"``, ``"tab"``. Keys are buffered until a consumer takes
    them with :meth:`take`, so several consumers can share one reader.
    """

    def __init__(self, tty_path: str = "", buffer_size: int = 256) -> None:
        self.tty_path = tty_path
        self._fd = -1
        self._owns_fd = False
        self._saved_attrs: list | None = None  # type: ignore[type-arg]
        self._pending = b""
        self._keys: collections.deque[str] = collections.deque(maxlen=buffer_size)
        self._users = 0

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def open(self) -> None:
        """Open the terminal (again: reference-counted for shared readers)."""
        self._users += 1
        if self._fd >= 0:
            return
        if self.tty_path:
            try:
                self._fd = os.open(self.tty_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
            except OSError as exc:
                self._users -= 1
                raise OSError(f"cannot open keyboard terminal {self.tty_path}: {exc}") from exc
            self._owns_fd = True
        else:
            if sys.stdin is None or not hasattr(sys.stdin, "fileno"):
                self._users -= 1
                raise OSError("keyboard teleop needs a terminal on stdin (or set tty_path)")
            self._fd = sys.stdin.fileno()
            self._owns_fd = False
        if os.isatty(self._fd):
            self._saved_attrs = termios.tcgetattr(self._fd)
            attrs = termios.tcgetattr(self._fd)
            # Non-canonical, no echo; ISIG stays on so Ctrl-C still interrupts.
            attrs[3] &= ~(termios.ICANON | termios.ECHO)
            attrs[6][termios.VMIN] = 0
            attrs[6][termios.VTIME] = 0
            termios.tcsetattr(self._fd, termios.TCSANOW, attrs)

    def close(self) -> None:
        """Release one user; the last one restores the terminal."""
        self._users = max(0, self._users - 1)
        if self._users or self._fd < 0:
            return
        if self._saved_attrs is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved_attrs)
            self._saved_attrs = None
        if self._owns_fd:
            os.close(self._fd)
        self._fd = -1
        self._pending = b""

    def poll(self) -> None:
        """Read whatever bytes are waiting (never blocks beyond a short Esc disambiguation)."""
        if self._fd < 0:
            raise DeviceNotConnectedError("the keyboard is not open; call connect()")
        data = self._read_available(0.0)
        if data:
            self._pending += data
        if self._pending.endswith(b"\x1b") or self._pending.endswith((b"\x1b[", b"\x1bO")):
            self._pending += self._read_available(ESC_WAIT_S)
        self._keys.extend(self._parse())

    def take(self, wanted: Callable[[str], bool] | None = None) -> list[str]:
        """Remove and return the buffered keys ``wanted`` accepts (all keys by default)."""
        self.poll()
        taken: list[str] = []
        kept: list[str] = []
        for key in self._keys:
            (taken if wanted is None or wanted(key) else kept).append(key)
        self._keys.clear()
        self._keys.extend(kept)
        return taken

    def _read_available(self, timeout_s: float) -> bytes:
        chunks = b""
        while True:
            ready, _, _ = select.select([self._fd], [], [], timeout_s)
            if not ready:
                return chunks
            try:
                data = os.read(self._fd, 1024)
            except BlockingIOError:
                return chunks
            except OSError:  # the other end of a pty went away
                return chunks
            if not data:
                return chunks
            chunks += data
            timeout_s = 0.0

    def _parse(self) -> list[str]:
        keys: list[str] = []
        buf = self._pending
        i = 0
        while i < len(buf):
            byte = buf[i : i + 1]
            if byte == b"\x1b":
                for seq, name in ESCAPE_SEQUENCES.items():
                    if buf.startswith(seq, i):
                        keys.append(name)
                        i += len(seq)
                        break
                else:
                    rest = buf[i + 1 : i + 2]
                    if rest in (b"[", b"O"):
                        # An escape sequence we do not use (F keys, Home…): skip to its final byte.
                        j = i + 2
                        while j < len(buf) and not (0x40 <= buf[j] <= 0x7E):
                            j += 1
                        i = j + 1
                    else:
                        keys.append("esc")
                        i += 1
                continue
            keys.append(_name_of(buf[i]))
            i += 1
        self._pending = b""
        return keys


def _name_of(code: int) -> str:
    special = {10: "enter", 13: "enter", 32: "space", 127: "backspace", 8: "backspace", 9: "tab"}
    if code in special:
        return special[code]
    return chr(code) if 32 < code < 127 else f"0x{code:02x}"


class KeyEvent(str, enum.Enum):
    """What the recorder is asked to do."""

    NEXT = "next"  # end the episode (or the reset period) now and go on
    RERECORD = "rerecord"  # drop the current episode and record it again
    STOP = "stop"  # stop recording after saving what is complete


#: Key name → recorder event.
EVENT_KEYS = {
    "right": KeyEvent.NEXT,
    "n": KeyEvent.NEXT,
    "left": KeyEvent.RERECORD,
    "b": KeyEvent.RERECORD,
    "esc": KeyEvent.STOP,
    "x": KeyEvent.STOP,
}


class KeyboardEvents:
    """Recorder keys from the terminal: → / n next, ← / b re-record, Esc / x stop.

    Pass the :attr:`KeyboardTeleop.reader` to share one terminal with a keyboard teleoperator.
    """

    def __init__(self, reader: KeyReader | None = None, tty_path: str = "") -> None:
        self.reader = reader or KeyReader(tty_path)
        self._open = False

    def start(self) -> None:
        if not self._open:
            self.reader.open()
            self._open = True

    def stop(self) -> None:
        if self._open:
            self.reader.close()
            self._open = False

    def poll(self) -> list[KeyEvent]:
        """Events pressed since the last poll, oldest first."""
        return [EVENT_KEYS[k] for k in self.reader.take(lambda k: k in EVENT_KEYS)]

    @staticmethod
    def help_text() -> str:
        """The recorder's keys, as printed at the start of a recording."""
        return (
            "episode keys: → or n = next (keep this episode; in a reset period: start the next "
            "one now), ← or b = re-record (discard this episode, record it again), "
            "Esc or x = stop (keep this episode, then end)"
        )

    def __enter__(self) -> KeyboardEvents:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class KeyboardTeleopConfig:
    """Joint-by-joint keyboard control: each joint has an increase key and a decrease key."""

    type: str = "keyboard"
    joint_names: list[str] = field(default_factory=lambda: list(SO101_JOINTS))
    # One two-letter string per joint: (increase, decrease). Default: q/a w/s e/d r/f t/g y/h.
    keys: list[str] = field(default_factory=lambda: ["qa", "ws", "ed", "rf", "tg", "yh"])
    step_deg: float = 2.0  # per key press (terminals auto-repeat a held key ~30 times/s)
    gripper_step_pct: float = 5.0  # the joint named "gripper" moves in percent open
    # Where the command starts; joints not named start at 0 (gripper 50 %). Call set_positions()
    # with the robot's observed state to start from where the arm is.
    initial_positions: dict[str, float] = field(default_factory=dict)
    tty_path: str = ""  # "" = this process's stdin (works over SSH); or a tty / pty / pipe path

    def __post_init__(self) -> None:
        if self.type != "keyboard":
            raise ValueError(f"type must be 'keyboard', got {self.type!r}")
        if len(self.keys) != len(self.joint_names):
            raise ValueError(
                f"keys must give one pair per joint ({len(self.joint_names)}), got {len(self.keys)}"
            )
        flat = "".join(self.keys)
        if any(len(pair) != 2 for pair in self.keys) or len(set(flat)) != len(flat):
            raise ValueError(f"keys must be distinct two-letter pairs, got {self.keys}")
        clash = sorted(set(flat) & set(EVENT_KEYS))
        if clash:
            raise ValueError(f"keys {clash} are the recorder's keys (n, b, x); choose others")
        if not (self.step_deg > 0 and self.gripper_step_pct > 0):
            raise ValueError("step_deg and gripper_step_pct must be positive")
        unknown = sorted(set(self.initial_positions) - set(self.joint_names))
        if unknown:
            raise ValueError(f"initial_positions names unknown joints {unknown}")


class KeyboardTeleop(Teleoperator):
    """Produces absolute joint targets moved by key presses; see the module docstring."""

    def __init__(self, config: KeyboardTeleopConfig, reader: KeyReader | None = None) -> None:
        self.config = config
        self.reader = reader or KeyReader(config.tty_path)
        self._bindings: dict[str, tuple[str, float]] = {}
        for joint, pair in zip(config.joint_names, config.keys, strict=True):
            step = config.gripper_step_pct if joint == "gripper" else config.step_deg
            self._bindings[pair[0]] = (joint, step)  # increase
            self._bindings[pair[1]] = (joint, -step)  # decrease
        self._targets: dict[str, float] = {}
        self._connected = False
        self.set_positions({})

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{joint}.pos": float for joint in self.config.joint_names}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError("keyboard teleop is already connected")
        self.reader.open()
        self._connected = True

    def disconnect(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError("keyboard teleop is not connected")
        self.reader.close()
        self._connected = False

    def set_positions(self, positions: dict[str, float]) -> None:
        """Start from these joint positions (``"<joint>"`` or ``"<joint>.pos"`` keys)."""
        targets = {j: (50.0 if j == "gripper" else 0.0) for j in self.config.joint_names}
        targets.update(self.config.initial_positions)
        for key, value in positions.items():
            joint = key.removesuffix(".pos")
            if joint in targets:
                targets[joint] = float(value)
        self._targets = targets

    def get_action(self) -> dict[str, float]:
        if not self._connected:
            raise DeviceNotConnectedError("keyboard teleop is not connected; call connect()")
        for key in self.reader.take(lambda k: k in self._bindings):
            joint, delta = self._bindings[key]
            value = self._targets[joint] + delta
            if joint == "gripper":
                value = min(max(value, 0.0), 100.0)
            self._targets[joint] = value
        return {f"{joint}.pos": value for joint, value in self._targets.items()}

    @staticmethod
    def help_text(config: KeyboardTeleopConfig) -> str:
        """The joint keys of ``config``: increase/decrease key per joint, and the step sizes."""
        pairs = [f"{j} {k[0]}/{k[1]}" for j, k in zip(config.joint_names, config.keys, strict=True)]
        return (
            "keyboard teleop keys (+/-): " + ", ".join(pairs) + f"; {config.step_deg:g}° per "
            f"press, gripper {config.gripper_step_pct:g} % per press; hold a key to repeat"
        )

    def key_help(self) -> str:
        """This teleoperator's keys (printed by the runtime before the arm moves)."""
        return self.help_text(self.config)
