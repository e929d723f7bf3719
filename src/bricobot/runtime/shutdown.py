"""One shutdown routine for every exit path: normal end, exception, Ctrl-C, SIGTERM.

Motors left powered after a crash burn; arms that drop when torque is cut break things. So every
command that moves a robot runs inside :func:`robot_session`, whose ``finally`` calls
:func:`shutdown_devices` once, whatever ended the run. The robot leaves torque as its config says
(hold, park then release, or release): that policy lives with the robot and is applied by
``robot.disconnect()``. The first Ctrl-C or SIGTERM only asks the loop to stop at the end of the
current step, so the dataset and the arm end in a known state; a second Ctrl-C interrupts
whatever is running (a slow park, say) and releases torque at once.

Signal handlers are installed by the :class:`ShutdownSignals` context manager and restored when it
exits; nothing is kept at module level.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any, Protocol

from bricobot.robots.base import Robot


class Device(Protocol):
    """What a session connects and shuts down: a robot, a teleoperator, a camera."""

    @property
    def is_connected(self) -> bool: ...

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...


log = logging.getLogger(__name__)


class ShutdownSignals:
    """Turns SIGINT / SIGTERM into a stop request while active; a second SIGINT interrupts at once.

    ``stop_requested`` is set on the first signal (poll it from the loop). On a second SIGINT
    ``force_release`` becomes True and ``KeyboardInterrupt`` is raised in the main thread, which
    aborts whatever was running; :func:`shutdown_devices` then releases torque without parking.
    Outside the main thread (where Python cannot install handlers) this is a no-op.
    """

    def __init__(self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = list(signals)
        self.stop_requested = threading.Event()
        self.force_release = False
        #: Name of the first signal received (``"SIGINT"``, ``"SIGTERM"``), or ``None``.
        self.received: str | None = None
        self.count = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ShutdownSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __call__(self) -> bool:
        """True once a stop was requested (usable as the loop's ``should_stop``)."""
        return self.stop_requested.is_set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            self.received = name
            self.stop_requested.set()
            log.warning(
                "%s received: stopping after this step and leaving torque as configured "
                "(press Ctrl-C again to release torque at once)",
                name,
            )
            return
        self.force_release = True
        raise KeyboardInterrupt(f"{name} received twice: releasing torque now")


def release_torque_now(robot: Robot) -> None:
    """Cut torque on every motor without parking (the second Ctrl-C path).

    A robot that is no longer connected has already stopped (its interrupted disconnect releases).
    """
    if robot.is_connected:
        robot.release_torque()


def shutdown_devices(
    robot: Robot, others: Sequence[Device] = (), force_release: bool = False
) -> None:
    """Leave ``robot`` as configured (or released at once), then disconnect the other devices.

    Errors are logged with the device that caused them, never raised, so they cannot hide the
    error that ended the run. A ``KeyboardInterrupt`` (second Ctrl-C) during a slow park releases
    torque at once, finishes the shutdown, and is then raised again so the command exits.
    """
    interrupted: KeyboardInterrupt | None = None
    try:
        if force_release:
            release_torque_now(robot)
        elif robot.is_connected:
            try:
                robot.disconnect()
            except KeyboardInterrupt as exc:
                log.warning("interrupted while stopping %s: releasing torque now", _name(robot))
                interrupted = exc
                release_torque_now(robot)
    except Exception as exc:  # keep shutting the rest down
        log.error("could not stop %s cleanly: %s", _name(robot), exc)
    for device in others:
        try:
            if device.is_connected:
                device.disconnect()
        except Exception as exc:
            log.error("could not disconnect %s: %s", _name(device), exc)
    if interrupted is not None:
        raise interrupted


@contextlib.contextmanager
def robot_session(
    robot: Robot, others: Sequence[Device] = (), signals: ShutdownSignals | None = None
) -> Iterator[ShutdownSignals]:
    """Connect ``robot`` and ``others``, install the signal handlers, and always shut down once.

    Yields the :class:`ShutdownSignals` whose stop flag the loop should poll. Devices already
    connected are left as they are on entry.
    """
    signals = signals or ShutdownSignals()
    with signals:
        try:
            for device in (robot, *others):
                if not device.is_connected:
                    device.connect()
            yield signals
        finally:
            shutdown_devices(robot, others, force_release=signals.force_release)


def _name(device: Any) -> str:
    return str(
        getattr(device, "name", None)
        or getattr(device, "robot_type", None)
        or type(device).__name__
    )


#: Exit status of a command a signal ended (the shell convention for SIGINT: 128 + 2).
INTERRUPTED_EXIT_CODE = 130


def exit_code(reason: str) -> int:
    """Exit status of a real-time command that ended for ``reason``: 130 when a signal (Ctrl-C,
    SIGTERM) ended it, 0 otherwise; record, rollout and teleoperate agree on it."""
    return INTERRUPTED_EXIT_CODE if reason == "signal" else 0
