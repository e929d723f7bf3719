"""A policy that looks at an observation history (Diffusion Policy, ``n_obs_steps=2``) gets the
same history remotely as locally: the last control steps, oldest first, the first repeated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tests.fakes.policy_batches import make_stats
from tests.fakes.runtime_devices import FakeRobot
from tests.remote.conftest import TOKEN, address, client_config
from tests.remote.stepping import drive
from tests.remote.test_wire import decode

from bricobot.policies.base import FeatureConfig, Policy
from bricobot.policies.checkpoint import make_policy
from bricobot.policies.diffusion.config import DiffusionConfig
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.config import PolicyServerConfig
from bricobot.runtime.remote.protocol import (
    Kind,
    history_blobs,
    observation_header,
    parse_observation,
)
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import WireError, encode_frame


def tiny_diffusion(robot: FakeRobot) -> Policy:
    state = [k for k, v in robot.observation_features.items() if not isinstance(v, tuple)]
    inputs = {"observation.state": FeatureConfig(shape=[len(state)], names=state)}
    actions = list(robot.action_features)
    outputs = {"action": FeatureConfig(shape=[len(actions)], names=actions)}
    config = DiffusionConfig(
        input_features=inputs,
        output_features=outputs,
        n_obs_steps=2,
        horizon=8,
        n_action_steps=4,
        down_dims=[16, 32],
        diffusion_step_embed_dim=16,
        num_inference_steps=2,
        ema_decay=None,
    )
    torch.manual_seed(0)
    return make_policy(config, make_stats(inputs, outputs)).eval()


class RecordingPolicy:
    """The policy, recording the state history of every prediction: ``(steps, D)`` arrays."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.config = policy.config
        self.histories: list[np.ndarray] = []

    def predict_chunk(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        state = batch["observation.state"]  # (1, steps, D)
        assert state.ndim == 3 and state.shape[:2] == (1, 2), state.shape
        self.histories.append(state[0].numpy().copy())
        return self.policy.predict_chunk(batch)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.policy, name)


def state_of(observation: dict[str, float], names: list[str]) -> np.ndarray:
    return np.array([observation[n] for n in names], np.float32)


def test_a_history_policy_gets_consecutive_control_steps_remotely() -> None:
    robot = FakeRobot()
    recording = RecordingPolicy(tiny_diffusion(robot))
    names = list(recording.config.input_features["observation.state"].names)
    seen: list[np.ndarray] = []  # every observation the control loop took, in order
    real_get = robot.get_observation

    def observe() -> dict:
        observation = real_get()
        seen.append(state_of(observation, names))
        return observation

    robot.get_observation = observe  # type: ignore[method-assign]
    clock = FakeClock()
    with PolicyServer(recording, PolicyServerConfig(port=0, token=TOKEN)) as server:  # type: ignore[arg-type]
        source = RemotePolicySource(client_config(address(server)), robot, fps=30, clock=clock)
        source.connect()
        robot.connect()
        try:
            source.reset()
            drive(source, robot, clock, until=lambda: len(recording.histories) >= 4)
        finally:
            source.close()
    first = recording.histories[0]
    np.testing.assert_array_equal(first[0], first[1])  # the episode's first step, repeated
    np.testing.assert_array_equal(first[1], seen[0])
    pairs = {(a.tobytes(), b.tobytes()) for a, b in itertools.pairwise(seen)}
    later = recording.histories[1:]
    assert all((h[0].tobytes(), h[1].tobytes()) in pairs for h in later)  # consecutive steps
    assert any(not np.array_equal(h[0], h[1]) for h in later)  # and the arm did move


def test_more_observation_steps_than_the_policy_takes_is_a_protocol_error() -> None:
    robot = FakeRobot()
    robot.connect()
    features = tiny_diffusion(robot).config.all_features()
    history = [robot.get_observation() for _ in range(3)]
    frame = decode(
        encode_frame(
            Kind.OBSERVATION,
            observation_header(1, 0.0, steps=3),
            history_blobs(history, features, "jpeg"),
        )
    )
    with pytest.raises(WireError, match="3 steps; this policy takes 1 to 2"):
        parse_observation(frame, features, max_steps=2)
    seq, _, inputs = parse_observation(frame, features, max_steps=3)
    assert seq == 1 and inputs["observation.state"].shape == (3, 6)
