"""Teleoperation without recording: a teleoperator drives a robot through the control loop.

Used to try a setup before recording (leader arm, keyboard, or a scripted expert in sim). The
teleoperator's action goes through the robot's safety checks like any other; optional sinks (a
terminal display) run off the control thread.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import key_help, make_robot, make_teleop
from bricobot.runtime.loop import ControlLoop, LoopResult
from bricobot.runtime.shutdown import robot_session
from bricobot.runtime.sinks import LoopFrame, Sink, SinkWorker
from bricobot.runtime.timing import RateWatch
from bricobot.teleop.base import Teleoperator

log = logging.getLogger(__name__)


class JointDisplay:
    """Sink that prints the action sent to the arm, a few times per second (on the sink thread).

    Each row names the arm it shows (``arm``: e.g. ``"follower"``, see :func:`arm_label`), so a
    person with a leader in one hand knows the numbers are the follower's goals after the safety
    cap. ``write`` prints a row (default: a line on ``stream``); a live status line passes its
    ``print_above`` so rows and the status line do not overwrite each other.
    """

    def __init__(
        self,
        every_s: float = 0.5,
        stream: TextIO | None = None,
        arm: str = "robot",
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.every_s = every_s
        self.stream = stream or sys.stdout
        self.arm = arm
        self.write = write or self._print
        self._last_s = float("-inf")

    def add_frame(self, frame: LoopFrame) -> None:
        if frame.step_start_s - self._last_s < self.every_s:
            return
        self._last_s = frame.step_start_s
        joints = "  ".join(f"{k.removesuffix('.pos')} {v:7.2f}" for k, v in frame.action.items())
        self.write(f"[{frame.timestamp_s:7.2f} s] {self.arm} goal:  {joints}")

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def arm_label(robot: Robot) -> str:
    """What display rows call ``robot``: its configured name (``"follower"``) or its type."""
    name = getattr(getattr(robot, "config", None), "name", "")
    return str(name) if isinstance(name, str) and name else robot.robot_type


def teleoperate(
    robot: Robot,
    teleop: Teleoperator,
    fps: float,
    duration_s: float | None = None,
    should_stop: Callable[[], bool] | None = None,
    sinks: list[Sink] | None = None,
    clock: Clock | None = None,
    rate_watch: RateWatch | bool | None = None,
) -> LoopResult:
    """Drive connected ``robot`` from connected ``teleop`` until ``duration_s`` or a stop request.

    ``rate_watch`` warns while the loop cannot keep ``fps`` (see :class:`ControlLoop`).
    """
    teleop.reset()
    worker = SinkWorker(sinks) if sinks else None
    try:
        return ControlLoop(
            robot,
            lambda obs: teleop.get_action(),
            fps,
            clock=clock,
            sinks=worker,
            should_stop=should_stop,
            rate_watch=rate_watch,
        ).run(duration_s=duration_s)
    finally:
        if worker is not None:
            worker.close()


def run_teleoperate(
    robot_config: Any,
    teleop_config: Any,
    fps: float = 30.0,
    duration_s: float | None = None,
    display: bool = True,
) -> LoopResult:
    """``bricobot teleoperate``: build the devices, drive until Ctrl-C or ``duration_s``, shut down.

    The keys (a keyboard teleoperator's, and Ctrl-C) are printed before the arm moves. A Ctrl-C
    or SIGTERM ends the run normally; the result's ``signal`` names it.
    """
    robot = make_robot(robot_config)
    teleop = make_teleop(teleop_config, robot)
    with robot_session(robot, [teleop]) as signals:
        for line in key_help(teleop, None, "teleoperate"):
            log.info(line)
        result = teleoperate(
            robot,
            teleop,
            fps,
            duration_s=duration_s,
            should_stop=signals,
            sinks=[JointDisplay(arm=arm_label(robot))] if display else None,
        )
    result.signal = signals.received
    return result
