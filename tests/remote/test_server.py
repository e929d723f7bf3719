"""The policy server: handshake, token, feature check, and surviving bad clients."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act
from tests.remote.conftest import TOKEN
from tests.remote.doubles import JunkServer

from bricobot.features import FeatureMismatchError
from bricobot.policies.base import Policy
from bricobot.policies.checkpoint import boundary_features
from bricobot.runtime.remote.config import PolicyServerConfig
from bricobot.runtime.remote.connection import PolicyConnection
from bricobot.runtime.remote.protocol import RemoteAuthError, RemoteError, observation_blobs
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import WireLimits

LIMITS = WireLimits()


def connect(server: PolicyServer, robot: FakeRobot, token: str = TOKEN) -> PolicyConnection:
    host, port = server.address
    features = boundary_features(robot.observation_features, robot.action_features)
    return PolicyConnection.open(host, port, token, robot.robot_type, features, 10.0, LIMITS)


def ask(connection: PolicyConnection, robot: FakeRobot, seq: int = 0) -> np.ndarray:
    robot.connected = True
    blobs = observation_blobs(robot.get_observation(), connection.welcome.features, "jpeg")
    return connection.request(seq, 1.0, blobs, timeout_s=30.0).actions


def test_a_robot_gets_the_checkpoints_chunk(
    server: PolicyServer, robot: FakeRobot, policy: Policy
) -> None:
    connection = connect(server, robot)
    try:
        assert connection.welcome.chunk_size == 10
        assert connection.welcome.features == policy.config.all_features()
        actions = ask(connection, robot)
    finally:
        connection.close()
    assert actions.shape == (10, 6) and np.isfinite(actions).all()
    assert server.chunks_sent == 1


def test_a_wrong_token_is_refused_and_the_server_goes_on(
    server: PolicyServer, robot: FakeRobot
) -> None:
    with pytest.raises(RemoteAuthError, match="wrong token"):
        connect(server, robot, token="guess")
    with pytest.raises(RemoteAuthError):
        connect(server, robot, token="")
    connection = connect(server, robot)
    try:
        assert ask(connection, robot).shape == (10, 6)
    finally:
        connection.close()


def test_a_robot_with_other_cameras_is_refused_at_the_handshake(server: PolicyServer) -> None:
    other = FakeRobot(cameras={"wrist": (24, 32, 3)})
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.front") as info:
        connect(server, other)
    assert "wrist" in str(info.value)


def test_a_server_whose_policy_does_not_fit_is_refused_by_the_robot(robot: FakeRobot) -> None:
    """The robot side runs the same check on the spec the server sends back (a server that
    skips its own check, or another program on the port, cannot drive the arm)."""
    other = tiny_act(FakeRobot(cameras={"wrist": (24, 32, 3)}), chunk_size=10)
    liar = JunkServer(other, reply=lambda: b"")
    try:
        host, port = liar.address.split(":")
        features = boundary_features(robot.observation_features, robot.action_features)
        with pytest.raises(FeatureMismatchError, match=r"observation\.images\.wrist"):
            PolicyConnection.open(host, int(port), "", "fake_arm", features, 10.0, LIMITS)
    finally:
        liar.close()


def test_a_bad_client_is_dropped_while_another_keeps_being_served(
    server: PolicyServer, robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    good = connect(server, robot)
    try:
        with socket.create_connection(server.address, timeout=10) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert bad.recv(4096) is not None  # an ERROR frame or EOF, then the server closes it
        assert ask(good, robot, seq=1).shape == (10, 6)
    finally:
        good.close()
    assert server.bad_clients >= 1
    assert "not a bricobot policy frame" in caplog.text


def test_listening_on_the_network_needs_a_token(policy: Policy) -> None:
    with pytest.raises(RemoteError, match="token"):
        PolicyServer(policy, PolicyServerConfig(host="0.0.0.0", port=0))


def test_the_server_says_where_it_listens(policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with PolicyServer(policy, PolicyServerConfig(port=0)):
        pass
    assert "only this machine can connect" in caplog.text
    caplog.clear()
    with PolicyServer(policy, PolicyServerConfig(host="0.0.0.0", port=0, token=TOKEN)):
        pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "beyond this machine" in warnings[0].getMessage()


def test_more_robots_than_max_clients_are_told_the_server_is_busy(
    policy: Policy, robot: FakeRobot
) -> None:
    with PolicyServer(policy, PolicyServerConfig(port=0, max_clients=1)) as server:
        first = connect(server, robot, token="")
        try:
            with pytest.raises(RemoteError, match="max_clients"):
                connect(server, robot, token="")
        finally:
            first.close()


def test_a_port_in_use_is_named(policy: Policy) -> None:
    with (
        PolicyServer(policy, PolicyServerConfig(port=0)) as server,
        pytest.raises(RemoteError, match=f"{server.address[1]}.*another port"),
    ):
        PolicyServer(policy, PolicyServerConfig(port=server.address[1])).start()
