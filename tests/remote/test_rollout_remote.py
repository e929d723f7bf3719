"""``bricobot rollout remote=HOST:PORT`` end to end: a fake arm, the sim twin and a virtual SO-101
run their real-time loop here while the policy answers from a server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes.runtime_devices import ConfiguredFakeRobot, FakeRobotConfig
from tests.fakes.runtime_policy import tiny_act
from tests.fakes.runtime_registry import register_fakes
from tests.remote.conftest import CAMERAS, TOKEN, address
from tests.remote.doubles import SlowPolicy

from bricobot.cli import rollout as rollout_cli
from bricobot.cli.rollout import RolloutCommandConfig
from bricobot.datasets.metadata import DatasetMeta
from bricobot.emulation.mujoco_arm import start_virtual_arm
from bricobot.policies.base import Policy
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobotConfig
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.remote.client import RemotePolicySource
from bricobot.runtime.remote.config import PolicyServerConfig, RemoteClientConfig, RemoteOptions
from bricobot.runtime.remote.server import PolicyServer
from bricobot.runtime.rollout import run_rollout

FAKE_CAMERAS = {name: list(shape) for name, shape in CAMERAS.items()}
#: Generous bounds for a loaded machine.
OPTIONS = RemoteOptions(request_timeout_s=60.0, max_action_age_s=5.0)
OUTAGE_S = 300.0


def command(where: str, tmp_path: Path, **fields) -> RolloutCommandConfig:
    base = {
        "robot": FakeRobotConfig(cameras=FAKE_CAMERAS, on_exit="release"),
        "remote": where,
        "remote_token": TOKEN,
        "remote_options": OPTIONS,
        "remote_outage_s": OUTAGE_S,
        "num_episodes": 2,
        "episode_time_s": 0.3,
        "reset_time_s": 0.0,
        "fps": 30,
        "keyboard": False,
        "progress": False,
        "output_dir": str(tmp_path / "out"),
    }
    return RolloutCommandConfig(**{**base, **fields})


def test_rollout_with_a_remote_policy_records_and_reports_action_ages(
    server: PolicyServer, tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    dataset = DatasetConfig(root=str(tmp_path / "eval"), use_videos=False)  # no encoder here
    cfg = command(address(server), tmp_path, dataset=dataset)
    assert rollout_cli.run(cfg) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "remote policy over 2 episode(s)" in out and "ran 2 episode(s)" in out
    assert DatasetMeta.load(tmp_path / "eval").total_frames == 18
    episodes = json.loads((tmp_path / "out" / "loop_timing.json").read_text())["episodes"]
    remote = [e["action_source"] for e in episodes]
    assert [r["steps"] for r in remote] == [9, 9]
    assert all(r["action_age_ms"]["max"] <= 5000 for r in remote)
    assert not ConfiguredFakeRobot.built[-1].torque_on
    assert server.chunks_sent >= 2  # at least the first chunk of each episode


def test_the_token_can_come_from_the_environment_and_stays_out_of_config_yaml(
    server: PolicyServer, tmp_path: Path, monkeypatch, capsys
) -> None:
    from bricobot.cli.app import save_effective_config

    register_fakes(monkeypatch)
    monkeypatch.setenv("BRICOBOT_POLICY_TOKEN", TOKEN)
    cfg = command(address(server), tmp_path, remote_token="", num_episodes=1)
    assert rollout_cli.run(cfg) == 0, capsys.readouterr().err
    written = save_effective_config(command("h:1", tmp_path), tmp_path / "cfg").read_text()
    assert TOKEN not in written and "remote_token: '***'" in written


def test_a_wrong_token_stops_before_the_robot_connects(
    server: PolicyServer, tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    assert rollout_cli.run(command(address(server), tmp_path, remote_token="nope")) == 1
    assert "wrong token" in capsys.readouterr().err
    assert ConfiguredFakeRobot.built[-1].events == []


def test_a_server_for_other_cameras_stops_before_the_robot_connects(
    server: PolicyServer, tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    robot = FakeRobotConfig(cameras={"wrist": [24, 32, 3]})
    assert rollout_cli.run(command(address(server), tmp_path, robot=robot)) == 1
    err = capsys.readouterr().err
    assert "observation.images.front" in err and "wrist" in err
    assert ConfiguredFakeRobot.built[-1].events == []


def test_an_outage_ends_the_rollout_through_the_usual_shutdown(
    policy: Policy, tmp_path: Path, monkeypatch, capsys
) -> None:
    register_fakes(monkeypatch)
    slow = SlowPolicy(policy)
    with PolicyServer(slow, PolicyServerConfig(port=0, token=TOKEN)) as server:  # type: ignore[arg-type]
        slow.gate.clear()  # the server hangs from the first chunk on
        options = RemoteOptions(request_timeout_s=0.5, max_action_age_s=0.5)
        cfg = command(
            address(server),
            tmp_path,
            remote_outage_s=1.0,
            remote_options=options,
            episode_time_s=120.0,
        )
        try:
            assert rollout_cli.run(cfg) == 1
        finally:
            slow.gate.set()
    err = capsys.readouterr().err
    assert "no fresh action from the policy server" in err and "remote_outage_s" in err
    robot = ConfiguredFakeRobot.built[-1]
    assert robot.events[-1] == "disconnect:release" and not robot.torque_on
    assert all(a == robot.sent[0] for a in robot.sent)  # it only ever held its first position


def test_the_sim_twin_runs_a_remote_policy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MUJOCO_GL", "egl")
    config = SimRobotConfig(
        task_config={"cameras": ["front"], "image_height": 48, "image_width": 64}
    )
    policy = tiny_act(make(ROBOTS, "robot", config), chunk_size=10).eval()
    with PolicyServer(policy, PolicyServerConfig(port=0)) as server:
        remote = RemoteClientConfig(address=address(server), outage_s=OUTAGE_S, options=OPTIONS)
        sources: list[RemotePolicySource] = []

        def factory(robot):
            sources.append(RemotePolicySource(remote, robot, fps=30))
            sources[-1].connect()
            return sources[-1]

        result = run_rollout(
            config,
            "",
            num_episodes=2,
            episode_time_s=0.5,
            reset_time_s=0.0,
            keyboard=False,
            progress=False,
            source_factory=factory,
        )
    assert result.episodes == 2 and result.reason == "done"
    assert [e["action_source"]["steps"] for e in result.timing] == [15, 15]
    assert server.chunks_sent >= 2 and sources[0]._thread is not None
    assert not sources[0]._thread.is_alive()  # closed when the rollout ended


@pytest.fixture
def virtual_so101(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with start_virtual_arm("so101", role="follower", workdir=tmp_path) as arm:
        yield arm.port, str(arm.calibration_path)


def test_a_virtual_so101_runs_a_remote_policy(
    virtual_so101: tuple[str, str], tmp_path: Path
) -> None:
    port, calibration = virtual_so101
    config_class = ROBOTS["so101"].config_class()
    config = config_class(
        port=port, calibration_path=calibration, reply_timeout_s=0.5, torque_on_exit="release"
    )
    policy = tiny_act(make(ROBOTS, "robot", config), chunk_size=10).eval()
    with PolicyServer(policy, PolicyServerConfig(port=0, token=TOKEN)) as server:
        remote = RemoteClientConfig(
            address=address(server), token=TOKEN, outage_s=OUTAGE_S, options=OPTIONS
        )

        def factory(robot):
            source = RemotePolicySource(remote, robot, fps=30)
            source.connect()
            return source

        result = run_rollout(
            config,
            "",
            num_episodes=1,
            episode_time_s=0.5,
            keyboard=False,
            progress=False,
            source_factory=factory,
        )
    assert result.episodes == 1 and result.timing[0]["action_source"]["steps"] == 15
    assert server.clients_served == 1 and server.chunks_sent >= 1
