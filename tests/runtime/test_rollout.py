from __future__ import annotations

import logging
import math
from collections.abc import Callable

import pytest
import torch

from bricobot.features import FeatureMismatchError
from bricobot.policies.base import Policy
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.loop import UnsafeActionError
from bricobot.runtime.record import RecordSettings
from bricobot.runtime.rollout import check_policy_on_robot, rollout
from bricobot.runtime.timing import format_runs
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act
from tests.fakes.runtime_writer import FakeWriter


@pytest.fixture
def make() -> Callable[[], Policy]:
    robot = FakeRobot(cameras={"front": (32, 32, 3)})
    return lambda: tiny_act(robot)


def test_a_policy_runs_on_the_robot_and_is_reset_each_episode(make: Callable[[], Policy]) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (32, 32, 3)})
    robot.connect()
    policy = make()
    resets = []
    policy.reset = lambda: resets.append(1)  # type: ignore[method-assign]
    result = rollout(
        robot,
        policy,
        RecordSettings(num_episodes=2, episode_time_s=0.5, reset_time_s=0, fps=10),
        clock=clock,
    )
    assert result.episodes == 2 and len(resets) == 2
    assert len(robot.sent) == 10
    assert all(math.isfinite(v) for a in robot.sent for v in a.values())


def test_a_rollout_can_be_recorded(make: Callable[[], Policy]) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (32, 32, 3)})
    robot.connect()
    writer = FakeWriter(robot)
    result = rollout(
        robot,
        make(),
        RecordSettings(num_episodes=2, episode_time_s=0.5, reset_time_s=0, fps=10),
        writer=writer,
        clock=clock,
    )
    assert result.episodes == 2 and [len(e) for e in writer.episodes] == [5, 5]


def test_a_policy_for_other_cameras_is_refused_before_anything_moves(
    make: Callable[[], Policy],
) -> None:
    robot = FakeRobot(cameras={"wrist": (32, 32, 3)})
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.front"):
        check_policy_on_robot(make(), robot)
    robot.connect()
    with pytest.raises(FeatureMismatchError):
        rollout(robot, make(), RecordSettings(episode_time_s=0.5, fps=10), clock=FakeClock())
    assert robot.sent == []


def test_a_nan_from_the_policy_never_reaches_the_robot(make: Callable[[], Policy]) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (32, 32, 3)})
    robot.connect()
    policy = make()
    policy.select_action = lambda obs: torch.full((1, 6), float("nan"))  # type: ignore[method-assign]
    with pytest.raises(UnsafeActionError, match="non-finite"):
        rollout(robot, policy, RecordSettings(episode_time_s=0.5, fps=10), clock=clock)
    assert robot.sent == []


def test_the_arm_holds_still_between_policy_episodes(make: Callable[[], Policy]) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (32, 32, 3)})
    robot.connect()
    writer = FakeWriter(robot)
    settings = RecordSettings(num_episodes=2, episode_time_s=0.5, reset_time_s=0.3, fps=10)
    rollout(robot, make(), settings, writer=writer, clock=clock)
    assert len(robot.sent) == 13  # 5 + 3 reset steps + 5
    reset = robot.sent[5:8]
    assert reset[0] == robot.sent[4] and reset[1] == reset[0] and reset[2] == reset[0]


@pytest.mark.parametrize("record", [False, True])
def test_a_policy_too_slow_for_its_rate_is_reported_live_once_across_episodes(
    make: Callable[[], Policy], record: bool, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (32, 32, 3)}, read_time_s=0.3)
    robot.connect()
    policy = make()

    def slow(batch):  # 100 ms of inference + 300 ms of reading: 2.5 Hz against 5 Hz
        clock.advance(0.1)
        return torch.zeros(1, 6)

    policy.select_action = slow  # type: ignore[method-assign]
    settings = RecordSettings(num_episodes=3, episode_time_s=4.0, reset_time_s=0.0, fps=5)
    writer = FakeWriter(robot) if record else None
    with caplog.at_level(logging.WARNING, logger="bricobot.runtime.timing"):
        result = rollout(robot, policy, settings, writer=writer, clock=clock)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bricobot.runtime.timing"]
    assert len(warnings) == 1  # 3 slow episodes (~24 s): one warning, not one per episode
    assert "running at 2.5 Hz, below the 5 Hz target" in warnings[0]
    assert "slowest stage: read 300.0 ms" in warnings[0]
    assert "2.5 Hz, below the 5 Hz target" in format_runs(result.timing)
