"""Driving a remote policy source step by step in tests, on a fake or the real clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.runtime_devices import FakeRobot

from bricobot.runtime.clock import Clock, FakeClock
from bricobot.runtime.remote.client import RemotePolicySource

PERIOD_S = 1 / 30
#: Real time the test gives the background thread between two control steps.
PAUSE_S = 0.005
MAX_STEPS = 4000


@dataclass
class Step:
    action: dict[str, float]
    held: bool
    position_before: dict[str, float]


def drive(
    source: RemotePolicySource,
    robot: FakeRobot,
    clock: Clock,
    until: Callable[[], bool],
    max_steps: int = MAX_STEPS,
) -> list[Step]:
    """Control steps until ``until()`` holds: one period apart on ``clock`` (a fake clock moves
    one period per step, with a short real pause for the network, which runs in real time)."""
    steps: list[Step] = []
    for _ in range(max_steps):
        observation = robot.get_observation()
        held_before = source.stats.steps_without_fresh_action
        action = source(observation)
        held = source.stats.steps_without_fresh_action > held_before
        steps.append(Step(action, held, {f"{k}.pos": v for k, v in robot.positions.items()}))
        robot.send_action(action)
        if until():
            return steps
        if isinstance(clock, FakeClock):
            clock.advance(PERIOD_S)
            time.sleep(PAUSE_S)
        else:
            clock.sleep_until(clock.now() + PERIOD_S)
    raise AssertionError(f"condition not reached in {max_steps} steps")


def check_holds(steps: list[Step]) -> None:
    """A step without a fresh action repeats the last command (the position before any)."""
    for before, step in zip([None, *steps], steps, strict=False):
        if step.held:
            expected = before.action if before is not None else step.position_before
            assert step.action == expected
