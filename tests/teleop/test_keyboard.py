"""Keyboard teleop and recorder keys, fed through a pseudo-terminal and a pipe."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from collections.abc import Iterator

import pytest

from bricobot.teleop.keyboard import (
    KeyboardEvents,
    KeyboardTeleop,
    KeyboardTeleopConfig,
    KeyEvent,
    KeyReader,
)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def type_keys(master: int, path: str, keys: bytes, timeout_s: float = 30.0) -> None:
    """Type ``keys`` on the terminal and wait until they are in its input queue: the kernel
    hands pty bytes over on a worker thread, which a busy machine can hold back."""
    os.write(master, keys)
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + timeout_s
        while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0] < len(keys):
            assert time.monotonic() < deadline, f"{keys!r} not readable after {timeout_s} s"
            time.sleep(0.001)
    finally:
        os.close(fd)


def test_keys_move_joints_by_a_step_and_the_gripper_in_percent(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    config = KeyboardTeleopConfig(tty_path=path, step_deg=2.0, gripper_step_pct=10.0)
    with KeyboardTeleop(config) as teleop:
        teleop.set_positions({"shoulder_pan.pos": 10.0, "gripper.pos": 95.0})
        type_keys(
            master, path, b"qqaw" + b"y"
        )  # pan +2 +2 -2, lift +2, gripper +10 (capped at 100)
        action = teleop.get_action()
    assert list(action) == [f"{j}.pos" for j in config.joint_names]
    assert action["shoulder_pan.pos"] == 12.0
    assert action["shoulder_lift.pos"] == 2.0
    assert action["elbow_flex.pos"] == 0.0
    assert action["gripper.pos"] == 100.0


def test_terminal_is_non_canonical_while_connected_and_restored_after(
    pty_pair: tuple[int, str],
) -> None:
    _, path = pty_pair
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    try:
        before = termios.tcgetattr(fd)
        teleop = KeyboardTeleop(KeyboardTeleopConfig(tty_path=path))
        teleop.connect()
        during = termios.tcgetattr(fd)
        teleop.disconnect()
        after = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert before[3] & termios.ICANON and not during[3] & termios.ICANON
    assert during[3] & termios.ISIG  # Ctrl-C still interrupts
    assert after == before


def test_arrows_esc_and_letters_become_recorder_events_on_a_shared_reader(
    pty_pair: tuple[int, str],
) -> None:
    master, path = pty_pair
    teleop = KeyboardTeleop(KeyboardTeleopConfig(tty_path=path))
    events = KeyboardEvents(reader=teleop.reader)
    with teleop, events:
        type_keys(master, path, b"\x1b[Cq\x1b[Dnbx")
        action = teleop.get_action()  # takes only its own keys
        type_keys(master, path, b"\x1b")  # a lone Esc: stop
        got = events.poll()
        again = events.poll()
    assert action["shoulder_pan.pos"] == 2.0
    assert got == [
        KeyEvent.NEXT,
        KeyEvent.RERECORD,
        KeyEvent.NEXT,
        KeyEvent.RERECORD,
        KeyEvent.STOP,
        KeyEvent.STOP,
    ]
    assert again == []


def test_reader_works_on_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    try:
        reader = KeyReader(tty_path=f"/proc/self/fd/{read_fd}")
        reader.open()
        os.write(write_fd, b"ab\x1b[A ")
        assert reader.take() == ["a", "b", "up", "space"]
        reader.close()
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_config_refuses_keys_that_clash_with_the_recorder() -> None:
    with pytest.raises(ValueError, match="recorder"):
        KeyboardTeleopConfig(keys=["qa", "ws", "ed", "rf", "tg", "nh"])
    with pytest.raises(ValueError, match="one pair per joint"):
        KeyboardTeleopConfig(keys=["qa"])
