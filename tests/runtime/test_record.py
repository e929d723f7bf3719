from __future__ import annotations

import numpy as np
import pytest

from bricobot.runtime.clock import FakeClock
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.record import RecordSettings, record_episodes
from tests.fakes.runtime_devices import FakeRobot, FakeTeleop
from tests.fakes.runtime_writer import FakeWriter


def _setup(**robot_kwargs):
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (4, 6, 3)}, **robot_kwargs)
    robot.connect()
    teleop = FakeTeleop()
    return clock, robot, teleop, FakeWriter(robot)


def test_records_episodes_with_reset_periods_between_them() -> None:
    clock, robot, teleop, writer = _setup()
    settings = RecordSettings(
        num_episodes=3, episode_time_s=1.0, reset_time_s=0.5, fps=10, task="t"
    )
    result = record_episodes(
        robot,
        lambda o: teleop.get_action(),
        writer,
        settings,
        on_episode_start=teleop.reset,
        clock=clock,
    )
    assert result.episodes_saved == 3 and result.reason == "done"
    assert [len(e) for e in writer.episodes] == [10, 10, 10]
    assert teleop.resets == 3
    # 3 episodes x 10 steps + 2 resets x 5 steps: the reset periods drive the arm, unrecorded.
    assert len(robot.sent) == 40
    frame = writer.episodes[1][3]
    np.testing.assert_array_equal(
        frame["action"], np.array(list(robot.sent[18].values()), np.float32)
    )
    assert frame["timing.time_s"] >= 0 and writer.tasks == {"t"}
    assert len(result.timing) == 3 and result.timing[0]["steps"] == 10


def test_rerecord_discards_and_records_again_and_stop_saves_then_ends() -> None:
    clock, robot, teleop, writer = _setup()
    events = EpisodeEvents()

    def source(obs):
        if teleop.calls == 4:
            events.rerecord.set()  # in the first episode
        if teleop.calls == 20:
            events.stop.set()  # in the second attempt, after the reset period
        return teleop.get_action()

    settings = RecordSettings(num_episodes=5, episode_time_s=2.0, reset_time_s=0.5, fps=10)
    result = record_episodes(robot, source, writer, settings, events=events, clock=clock)
    assert result.episodes_discarded == 1 and writer.cleared == 1
    assert result.episodes_saved == 1 and result.reason == "stop_key"
    # discarded attempt: calls 1-5; reset: calls 6-10; kept episode: calls 11-21 (stop at 21).
    assert len(writer.episodes[0]) == 11
    assert writer.episodes[0][0]["action"][0] == 11.0


def test_an_exception_mid_episode_keeps_saved_episodes_and_discards_the_partial_one() -> None:
    clock, robot, teleop, writer = _setup(fail_at_step=15)
    settings = RecordSettings(num_episodes=3, episode_time_s=1.0, reset_time_s=0.0, fps=10)
    with pytest.raises(RuntimeError, match="fake failure"):
        record_episodes(robot, lambda o: teleop.get_action(), writer, settings, clock=clock)
    assert [len(e) for e in writer.episodes] == [10]
    assert writer.buffer == [] and writer.cleared == 1


def test_a_stop_signal_discards_the_episode_in_progress() -> None:
    clock, robot, teleop, writer = _setup()
    stop = {"now": False}

    def source(obs):
        if teleop.calls == 13:
            stop["now"] = True
        return teleop.get_action()

    settings = RecordSettings(num_episodes=3, episode_time_s=1.0, reset_time_s=0.0, fps=10)
    result = record_episodes(
        robot, source, writer, settings, should_stop=lambda: stop["now"], clock=clock
    )
    assert result.reason == "signal"
    assert result.episodes_saved == 1 and result.episodes_discarded == 1
    assert writer.buffer == []


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="num_episodes"):
        RecordSettings(num_episodes=0)
    with pytest.raises(ValueError, match="episode_time_s"):
        RecordSettings(episode_time_s=0)
