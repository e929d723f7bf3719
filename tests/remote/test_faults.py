"""The robot side under faults: dropped connection, server restart, slow or hung server, junk
replies, wrong token. The arm only ever gets a fresh action or its last goal held, the cause is
logged once, the client reconnects, and a long outage ends the run.

Where no chunk can ever be fresh (a hung server, junk replies) the control steps run on a fake
clock, so outages are exact; where chunks do arrive the steps run in real time with generous age
bounds. Each test waits for events (a chunk, a reconnection), never for a wall-clock duration.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

import numpy as np
import pytest
from tests.fakes.runtime_devices import FakeRobot
from tests.remote.conftest import TOKEN, address, client_config
from tests.remote.doubles import JunkServer, SlowPolicy
from tests.remote.stepping import PERIOD_S, check_holds, drive

from bricobot.policies.base import Policy
from bricobot.runtime.clock import Clock, FakeClock, SystemClock
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.config import PolicyServerConfig
from bricobot.runtime.remote.delay_proxy import DelayProxy
from bricobot.runtime.remote.protocol import (
    Kind,
    RemoteAuthError,
    RemoteUnavailableError,
    chunk_message,
)
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.remote.wire import MAGIC, PREAMBLE, encode_frame, raw_blob


def started(config, robot: FakeRobot, clock: Clock) -> RemotePolicySource:
    source = RemotePolicySource(config, robot, fps=30, clock=clock)
    source.connect()
    robot.connect()
    source.reset()
    return source


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("bricobot.runtime.remote.client")
    ]


def test_a_dropped_connection_is_held_through_and_reconnected(
    server: PolicyServer, robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SystemClock()
    with DelayProxy(server.address, one_way_s=0.0) as proxy:
        host, port = proxy.address
        source = started(client_config(f"{host}:{port}"), robot, clock)
        try:
            steps = drive(source, robot, clock, until=lambda: bool(source.stats.round_trip_s))
            proxy.drop_connections()
            steps += drive(source, robot, clock, until=lambda: source.reconnects >= 1)
            chunks = len(source.stats.round_trip_s)
            after = drive(
                source, robot, clock, until=lambda: len(source.stats.round_trip_s) > chunks + 2
            )
        finally:
            source.close()
    check_holds(steps + after)
    assert max(source.stats.action_age_s) <= source.options.max_action_age_s
    assert any(not step.held for step in after)  # fresh actions again after the reconnection
    # The cut is reported, once. (On a loaded machine the queue may also run dry before the first
    # chunk, or before the cut is noticed, and that outage is reported as "no fresh chunk" instead.)
    warnings = warnings_of(caplog)
    lost = [w for w in warnings if "connection lost" in w]
    dry = [w for w in warnings if "no fresh chunk" in w]
    assert lost or dry, "the cut was never reported"
    assert len(lost) <= 1 and len(dry) <= 1, warnings  # one warning per outage, not per step
    assert len(lost) + len(dry) == len(warnings), warnings  # and no other warning


def test_a_restarted_server_is_found_again(policy: Policy, robot: FakeRobot) -> None:
    clock = SystemClock()
    first = PolicyServer(policy, PolicyServerConfig(port=0, token=TOKEN))
    host, port = first.start()
    source = started(client_config(f"{host}:{port}"), robot, clock)
    try:
        drive(source, robot, clock, until=lambda: bool(source.stats.round_trip_s))
        first.close()
        steps = drive(
            source, robot, clock, until=lambda: source.stats.steps_without_fresh_action > 0
        )
        with PolicyServer(policy, PolicyServerConfig(port=port, token=TOKEN)) as second:
            steps += drive(
                source,
                robot,
                clock,
                until=lambda: second.chunks_sent >= 2 and source.queue.chunks != [],
            )
    finally:
        source.close()
    check_holds(steps)
    assert source.reconnects >= 1
    assert max(source.stats.action_age_s) <= source.options.max_action_age_s


def test_a_server_slower_than_the_period_still_drives_the_arm(
    policy: Policy, robot: FakeRobot
) -> None:
    """Chunks that take several periods to come are executed from the step they are for."""
    slow = SlowPolicy(policy, delay_s=0.15)  # 4.5 control periods per chunk
    clock = SystemClock()
    with PolicyServer(slow, PolicyServerConfig(port=0, token=TOKEN)) as server:  # type: ignore[arg-type]
        source = started(client_config(address(server)), robot, clock)
        try:
            # A loaded machine stretches every round trip beyond the 0.15 s delay: drive until the
            # arm has executed fresh actions, not for a fixed number of steps.
            steps = drive(
                source,
                robot,
                clock,
                until=lambda: len(source.stats.round_trip_s) >= 4 and source.stats.obs_age_s != [],
            )
        finally:
            source.close()
    check_holds(steps)
    ages = source.stats.obs_age_s
    assert ages and max(source.stats.action_age_s) <= source.options.max_action_age_s
    # Every executed action comes from an observation at least one server delay old: the chunk
    # was entered at the step it reached the robot, not at its start.
    assert min(ages) >= 0.15


def test_a_hung_server_ends_the_run_after_the_outage_and_the_arm_holds(
    policy: Policy, robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowPolicy(policy)
    slow.gate.clear()  # every chunk hangs: the server is alive but never answers
    clock = FakeClock()
    robot.positions = {k: 5.0 for k in robot.positions}
    with PolicyServer(slow, PolicyServerConfig(port=0, token=TOKEN)) as server:  # type: ignore[arg-type]
        config = client_config(
            address(server), outage_s=2.0, request_timeout_s=0.2, max_action_age_s=0.5
        )
        source = started(config, robot, clock)
        try:
            with pytest.raises(RemoteUnavailableError, match="remote_outage_s") as info:
                drive(source, robot, clock, until=lambda: False, max_steps=200)
        finally:
            slow.gate.set()
            source.close()
    assert "no fresh action" in str(info.value)
    assert robot.sent and all(a == dict.fromkeys(a, 5.0) for a in robot.sent)  # held still
    assert abs(len(robot.sent) - 2.0 / PERIOD_S) <= 1  # held for remote_outage_s, then stopped
    assert len(warnings_of(caplog)) == 1


JUNK: dict[str, Callable[[], bytes]] = {
    "garbage": lambda: bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8)),
    "oversized": lambda: PREAMBLE.pack(MAGIC, 1, Kind.CHUNK, 0, 10, 2**31),
    "wrong shape": lambda: encode_frame(
        Kind.CHUNK,
        chunk_message(0, 0.0, np.zeros((1, 6)), 0.0)[0],
        [raw_blob("action", np.zeros((10, 2), np.float32))],
    ),
    "non-finite": lambda: encode_frame(
        Kind.CHUNK,
        chunk_message(0, 0.0, np.zeros((1, 6)), 0.0)[0],
        [raw_blob("action", np.full((10, 6), np.inf, np.float32))],
    ),
    "truncated": lambda: encode_frame(Kind.CHUNK, *chunk_message(0, 0.0, np.ones((10, 6)), 0.0))[
        :-7
    ],
    "wrong kind": lambda: struct.pack("<4s", b"BRCB") + b"\x01\x00\x09" + b"\x00" * 9,
}


@pytest.mark.parametrize("junk", list(JUNK))
def test_junk_from_the_server_never_reaches_the_arm(
    junk: str, policy: Policy, robot: FakeRobot, caplog: pytest.LogCaptureFixture
) -> None:
    server = JunkServer(policy, JUNK[junk])
    clock = FakeClock()
    robot.positions = {k: 7.0 for k in robot.positions}
    config = client_config(server.address, request_timeout_s=0.5, max_action_age_s=0.5)
    try:
        source = started(config, robot, clock)
        try:
            steps = drive(source, robot, clock, until=lambda: server.connections >= 3)
        finally:
            source.close()
    finally:
        server.close()
    assert all(step.held for step in steps)
    assert all(a == dict.fromkeys(a, 7.0) for a in robot.sent)
    assert len(warnings_of(caplog)) == 1, warnings_of(caplog)


def test_a_wrong_token_is_refused_before_the_robot_moves(
    server: PolicyServer, robot: FakeRobot
) -> None:
    source = RemotePolicySource(client_config(address(server), token="wrong"), robot, fps=30)
    with pytest.raises(RemoteAuthError, match="remote_token"):
        source.connect()
    source.close()
    assert robot.events == []


def test_no_server_at_the_address_says_what_to_start(
    robot: FakeRobot, server: PolicyServer
) -> None:
    host, port = server.address
    server.close()
    source = RemotePolicySource(client_config(f"{host}:{port}"), robot, fps=30)
    with pytest.raises(RemoteUnavailableError, match="bricobot serve-policy"):
        source.connect()
