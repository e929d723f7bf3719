from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.record import RecordSettings, record_episodes
from bricobot.runtime.replay import ReplayError, load_episode_actions, replay_episode
from tests.fakes.runtime_devices import FakeRobot, FakeTeleop


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, list[list[dict[str, float]]]]:
    root = tmp_path_factory.mktemp("ds") / "pick"
    clock = FakeClock(100.0)
    robot = FakeRobot(clock)
    robot.connect()
    teleop = FakeTeleop()
    features = features_from_robot(robot.observation_features, robot.action_features)
    with DatasetWriter.create(root, fps=10, features=features, robot_type="fake_arm") as writer:
        record_episodes(
            robot,
            lambda o: teleop.get_action(),
            writer,
            RecordSettings(num_episodes=2, episode_time_s=0.8, reset_time_s=0, fps=10),
            clock=clock,
        )
    return root, [robot.sent[:8], robot.sent[8:]]


def test_replay_sends_the_recorded_actions_in_order(dataset) -> None:
    root, sent = dataset
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    result = replay_episode(robot, root, 1, clock=clock)
    assert result.steps == 8
    assert robot.sent == sent[1]
    assert clock.deadlines_s == pytest.approx([k / 10 for k in range(8)])


def test_actions_are_matched_by_name(dataset) -> None:
    root, _ = dataset
    names, actions, fps = load_episode_actions(root, 0)
    assert names[0] == "shoulder_pan.pos" and fps == 10
    assert actions.shape == (8, 6) and actions.dtype == np.float32


def test_a_missing_episode_is_refused(dataset) -> None:
    root, _ = dataset
    with pytest.raises(ReplayError, match=r"episodes 0\.\.1"):
        load_episode_actions(root, 5)
