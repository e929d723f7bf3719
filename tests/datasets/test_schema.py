"""Features come from the robot's declaration: names, order, shapes, and frame checks."""

from __future__ import annotations

import numpy as np
import pytest

from bricobot.datasets.schema import (
    FrameError,
    check_frame,
    diff_features,
    features_from_robot,
    frame_from_observation,
    with_defaults,
)
from tests.fakes.fake_dataset import JOINTS, robot_features


def test_features_follow_the_robot_declaration() -> None:
    obs, act = robot_features(hw=(480, 640))
    f = features_from_robot(obs, act)
    assert f["observation.state"]["names"] == [f"{j}.pos" for j in JOINTS]
    assert f["observation.state"]["shape"] == (6,) and f["action"]["dtype"] == "float32"
    assert f["observation.images.front"]["shape"] == (480, 640, 3)
    assert f["observation.images.wrist"]["dtype"] == "video"
    assert f["timing.capture_time_s.front"]["dtype"] == "float64"
    assert not any(k.startswith("observation.") and "time" in k for k in f)
    assert list(with_defaults(f))[-5:] == [
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    images = features_from_robot(obs, act, use_videos=False, timing=False)
    assert images["observation.images.front"]["dtype"] == "image"
    assert not any(k.startswith("timing.") for k in images)


def test_frame_from_observation_orders_by_feature_names() -> None:
    obs, act = robot_features(hw=(4, 5), cameras=("front",))
    f = features_from_robot(obs, act)
    observation = {f"{j}.pos": float(i) for i, j in enumerate(JOINTS)}
    observation["front"] = np.zeros((4, 5, 3), np.uint8)
    action = {f"{j}.pos": -float(i) for i, j in reversed(list(enumerate(JOINTS)))}
    times = {"observation.state": 1.0, "front": 0.98}
    frame = frame_from_observation(f, observation, action, times, time_s=1.01)
    assert frame["observation.state"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["action"].tolist() == [0, -1, -2, -3, -4, -5]
    assert frame["timing.capture_time_s.front"] == 0.98
    check_frame(f, frame)
    with pytest.raises(FrameError, match="no capture time for 'front'"):
        frame_from_observation(f, observation, action, {"observation.state": 1.0}, time_s=1.0)


def test_check_frame_names_every_problem() -> None:
    obs, act = robot_features(hw=(4, 5), cameras=("front",))
    f = features_from_robot(obs, act, timing=False)
    frame = {
        "observation.state": np.zeros(5),
        "extra": 1,
        "observation.images.front": np.zeros((4, 5, 3)),
    }
    with pytest.raises(FrameError) as info:
        check_frame(f, frame)
    message = str(info.value)
    assert "missing 'action'" in message and "unknown 'extra'" in message
    assert "shape (6,)" in message and "uint8" in message


def test_diff_features_lists_differences() -> None:
    obs, act = robot_features()
    a = features_from_robot(obs, act)
    obs2, act2 = robot_features(hw=(24, 32), cameras=("front",))
    lines = diff_features(a, features_from_robot(obs2, act2))
    assert any("observation.images.front': shape" in line for line in lines)
    assert any("camera set differs" in line for line in lines)
    assert diff_features(a, a) == []
