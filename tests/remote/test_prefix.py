"""A policy that continues given actions (Diffusion) gets, with each remote request, the actions the
robot executes while the request is answered; its chunk starts with them, so the robot's commands
never jump when a new chunk takes over."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.fakes.runtime_devices import FakeRobot
from tests.remote.conftest import TOKEN, address, client_config
from tests.remote.stepping import PERIOD_S, drive
from tests.remote.test_history import tiny_diffusion
from tests.remote.test_wire import decode

from bricobot.policies.base import ACTION_KEY, Policy
from bricobot.runtime.clock import FakeClock
from bricobot.runtime.remote.client import RemotePolicySource, Request
from bricobot.runtime.remote.config import PolicyServerConfig
from bricobot.runtime.remote.protocol import (
    PREFIX_BLOB,
    Kind,
    history_blobs,
    observation_header,
    parse_prefix,
    parse_welcome,
    welcome_header,
)
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import Blob, WireError, encode_frame, raw_blob


class PrefixRecordingPolicy:
    """The policy, recording the prefix of every prediction (``(d, A)`` or None)."""

    continues_prefix = True

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.config = policy.config
        self.prefixes: list[np.ndarray | None] = []

    def predict_chunk(
        self, batch: dict[str, torch.Tensor], prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.prefixes.append(None if prefix is None else prefix[0].numpy().copy())
        return self.policy.predict_chunk(batch, prefix=prefix)


def test_the_robot_executes_exactly_the_prefix_it_sent_whenever_the_chunk_arrives() -> None:
    robot = FakeRobot()
    recording = PrefixRecordingPolicy(tiny_diffusion(robot))
    clock = FakeClock()
    sent: list[Request] = []
    with PolicyServer(recording, PolicyServerConfig(port=0, token=TOKEN)) as server:  # type: ignore[arg-type]
        config = client_config(address(server), send_prefix=True)
        source = RemotePolicySource(config, robot, fps=30, clock=clock)
        real_round_trip = source._round_trip

        def round_trip(request: Request) -> None:
            sent.append(request)
            real_round_trip(request)

        source._round_trip = round_trip  # type: ignore[method-assign]
        source.connect()
        robot.connect()
        try:
            source.reset()
            start_s = clock.now()
            with_prefix = lambda: sum(r.prefix is not None and len(r.prefix) > 0 for r in sent)  # noqa: E731
            steps = drive(source, robot, clock, until=lambda: with_prefix() >= 6)
        finally:
            source.close()
    assert source.queue.ensemble_coeff is None  # the newest chunk is executed, not a blend
    names = list(recording.config.output_features[ACTION_KEY].names or [])
    executed = np.array([[s.action[n] for n in names] for s in steps])  # (steps, A)
    checked = 0
    for request in sent:
        if request.prefix is None or not len(request.prefix):
            continue
        first = round((request.obs_time_s - start_s) / PERIOD_S)
        window = executed[first : first + len(request.prefix)]
        held = [s.held for s in steps[first : first + len(request.prefix)]]
        assert not any(held)
        # What the robot did at those steps is what it announced, whether the new chunk
        # arrived during them (its inpainted start) or after (the old chunk went on).
        np.testing.assert_allclose(window, request.prefix[: len(window)], atol=1e-3)
        checked += len(window)
    assert checked > 0
    received = [p for p in recording.prefixes if p is not None]
    assert len(received) >= 5 and all(p.shape[1] == len(names) for p in received)


@pytest.mark.parametrize("send_prefix", [True, False])
def test_no_prefix_unless_asked_for_and_the_policy_continues_it(
    server: PolicyServer, robot: FakeRobot, send_prefix: bool
) -> None:
    """ACT does not continue a prefix (WELCOME says so): none is sent, even when asked for; a
    Diffusion checkpoint gets one only with ``send_prefix`` (the default executes its chunks as
    they come, as it does locally)."""
    if not send_prefix:
        server = PolicyServer(tiny_diffusion(robot), PolicyServerConfig(port=0, token=TOKEN))
        server.start()
    clock = FakeClock()
    config = client_config(address(server), send_prefix=send_prefix)
    source = RemotePolicySource(config, robot, fps=30, clock=clock)
    sent: list[Request] = []
    real_round_trip = source._round_trip
    source._round_trip = lambda r: (sent.append(r), real_round_trip(r))[1]  # type: ignore[method-assign]
    source.connect()
    robot.connect()
    try:
        source.reset()
        drive(source, robot, clock, until=lambda: len(sent) >= 4)
    finally:
        source.close()
        if not send_prefix:
            server.close()
    assert all(r.prefix is None for r in sent)
    assert source.queue.ensemble_coeff is None  # neither checkpoint ensembles: newest chunk


def test_welcome_says_whether_the_policy_continues_a_prefix() -> None:
    robot = FakeRobot()
    features = tiny_diffusion(robot).config.all_features()
    for flag in (True, False):
        header = welcome_header("diffusion", features, 16, None, 2, flag)
        assert parse_welcome(decode(encode_frame(Kind.WELCOME, header))).continues_prefix is flag
    old = welcome_header("act", features, 16, None)
    del old["continues_prefix"]  # a server from before prefixes
    assert parse_welcome(decode(encode_frame(Kind.WELCOME, old))).continues_prefix is False
    old["continues_prefix"] = "yes"
    with pytest.raises(WireError, match="'continues_prefix' is missing or not bool"):
        parse_welcome(decode(encode_frame(Kind.WELCOME, old)))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (raw_blob(PREFIX_BLOB, np.zeros((3, 4), np.float32)), r"expected \(n, 6\)"),
        (raw_blob(PREFIX_BLOB, np.zeros((3, 6), np.float64)), "raw float32"),
        (raw_blob(PREFIX_BLOB, np.full((2, 6), np.nan, np.float32)), "non-finite"),
        (Blob(PREFIX_BLOB, "float32", (2, 6), "jpeg", b"\0" * 48), "raw float32"),
    ],
)
def test_a_malformed_prefix_is_a_protocol_error(blob: Blob, message: str) -> None:
    robot = FakeRobot()
    robot.connect()
    features = tiny_diffusion(robot).config.all_features()
    blobs = [*history_blobs([robot.get_observation()], features, "raw"), blob]
    frame = decode(encode_frame(Kind.OBSERVATION, observation_header(1, 0.0), blobs))
    with pytest.raises(WireError, match=message):
        parse_prefix(frame, 6)
    no_prefix = decode(encode_frame(Kind.OBSERVATION, observation_header(1, 0.0), blobs[:-1]))
    assert parse_prefix(no_prefix, 6) is None
