"""Fixtures of the remote-policy tests: a fake arm, a tiny ACT for it, a server on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from tests.fakes.runtime_devices import FakeRobot
from tests.fakes.runtime_policy import tiny_act

from bricobot.policies.base import Policy
from bricobot.runtime.remote.config import PolicyServerConfig, RemoteClientConfig, RemoteOptions
from bricobot.runtime.remote.server import PolicyServer

TOKEN = "s3cret-token"
CAMERAS = {"front": (24, 32, 3)}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def robot() -> FakeRobot:
    return FakeRobot(cameras=dict(CAMERAS))


@pytest.fixture
def policy(robot: FakeRobot) -> Policy:
    torch.manual_seed(0)
    return tiny_act(robot, chunk_size=10).eval()


@pytest.fixture
def server(policy: Policy) -> Iterator[PolicyServer]:
    with PolicyServer(policy, PolicyServerConfig(port=0, token=TOKEN)) as running:
        yield running


def address(server: PolicyServer) -> str:
    host, port = server.address
    return f"{host}:{port}"


def client_config(
    where: str, token: str = TOKEN, outage_s: float = 300.0, **options
) -> RemoteClientConfig:
    """Generous timeouts: these tests must pass on a loaded machine."""
    defaults = {"request_timeout_s": 10.0, "max_action_age_s": 5.0, "backoff_max_s": 0.2}
    return RemoteClientConfig(
        address=where,
        token=token,
        outage_s=outage_s,
        options=RemoteOptions(**{**defaults, **options}),
    )
