"""Camera frames travel at the policy's input size: the robot fits them as the policy would locally,
so a remote policy sees exactly the pixels a local one does (raw), at a fraction of the bytes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act
from tests.remote.test_wire import decode

from bricobot.policies.base import observation_to_batch
from bricobot.runtime.remote.client import frame_bytes
from bricobot.runtime.remote.config import AUTO_RAW_MAX_BYTES, RemoteOptions
from bricobot.runtime.remote.protocol import (
    Kind,
    history_blobs,
    observation_header,
    parse_observation,
    parse_welcome,
    welcome_header,
)
from bricobot.runtime.remote.wire import WireError, encode_frame
from bricobot.runtime.rollout import PolicyActionSource

CAMERA_HW = (120, 160)
POLICY_HW = [24, 40]  # another aspect ratio: fitting crops, as the policy does


@pytest.fixture
def robot() -> FakeRobot:
    robot = FakeRobot(cameras={"front": (*CAMERA_HW, 3)})
    robot.connect()
    return robot


def observation_frame(robot: FakeRobot, policy, encoding: str, image_size_hw=None):  # type: ignore[no-untyped-def]
    features = policy.config.all_features()
    observation = robot.get_observation()
    blobs = history_blobs([observation], features, encoding, 90, image_size_hw)
    return observation, decode(encode_frame(Kind.OBSERVATION, observation_header(1, 0.0), blobs))


def test_a_remote_policy_gets_the_exact_input_a_local_one_would(robot: FakeRobot) -> None:
    policy = tiny_act(robot, image_size=POLICY_HW)
    observation, frame = observation_frame(robot, policy, "raw", POLICY_HW)
    image = frame.blobs["observation.images.front"]
    assert tuple(image.shape) == (*POLICY_HW, 3)  # fit on the robot: 24×40, not 120×160
    assert len(image.data) == 24 * 40 * 3
    _, _, inputs = parse_observation(frame, policy.config.all_features(), 1, POLICY_HW)
    remote = observation_to_batch(inputs, policy.config)
    source = PolicyActionSource(policy, robot)
    local_inputs = {"observation.state": np.array([observation[n] for n in source.state_names])}
    local_inputs["observation.images.front"] = observation["front"]
    local = observation_to_batch(local_inputs, policy.config)
    for key in local:
        torch.testing.assert_close(remote[key], local[key], rtol=0, atol=0)


def test_frames_at_the_cameras_size_are_still_accepted_and_other_sizes_refused(
    robot: FakeRobot,
) -> None:
    policy = tiny_act(robot, image_size=POLICY_HW)
    features = policy.config.all_features()
    _, full = observation_frame(robot, policy, "jpeg")  # a client that does not fit frames
    _, _, inputs = parse_observation(full, features, 1, POLICY_HW)
    assert inputs["observation.images.front"].shape == (*CAMERA_HW, 3)
    _, other = observation_frame(robot, policy, "raw", [30, 40])
    with pytest.raises(WireError, match=r"image 'observation.images.front'.*expected uint8"):
        parse_observation(other, features, 1, POLICY_HW)


def test_auto_sends_small_frames_raw_and_large_ones_as_jpeg(robot: FakeRobot) -> None:
    auto = RemoteOptions()
    assert auto.image_encoding == "auto"
    features = tiny_act(robot, image_size=POLICY_HW).config.all_features()
    assert auto.encoding_for(frame_bytes(features, (96, 128))) == "raw"  # the CPU presets
    assert auto.encoding_for(frame_bytes(features, (240, 320))) == "jpeg"  # the full presets
    assert frame_bytes(features, None) == 120 * 160 * 3  # no input size: the camera's
    vga = tiny_act(FakeRobot(cameras={"front": (480, 640, 3)})).config.all_features()
    assert auto.encoding_for(frame_bytes(vga, None)) == "jpeg"
    assert auto.encoding_for(AUTO_RAW_MAX_BYTES) == "raw"
    assert RemoteOptions(image_encoding="jpeg").encoding_for(10) == "jpeg"
    with pytest.raises(ValueError, match="auto, jpeg or raw"):
        RemoteOptions(image_encoding="png")


def test_welcome_carries_the_policys_input_size(robot: FakeRobot) -> None:
    features = tiny_act(robot).config.all_features()
    for size, expected in (([96, 128], (96, 128)), ([], None), (None, None)):
        header = welcome_header("act", features, 10, None, image_size=size)
        assert parse_welcome(decode(encode_frame(Kind.WELCOME, header))).image_size == expected
    for bad in ([0, 10], [96], [96, 128, 3], ["96", 128], [10**6, 10]):
        header = {**welcome_header("act", features, 10, None), "image_size": bad}
        with pytest.raises(WireError, match="image_size"):
            parse_welcome(decode(encode_frame(Kind.WELCOME, header)))
