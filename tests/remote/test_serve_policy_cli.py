"""``bricobot serve-policy`` and the ``remote=`` options of ``bricobot rollout``: bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fakes.runtime_devices import FakeRobot, FakeRobotConfig
from tests.fakes.runtime_policy import tiny_act_checkpoint

from bricobot.cli import rollout as rollout_cli
from bricobot.cli import serve_policy
from bricobot.cli.rollout import RolloutCommandConfig
from bricobot.cli.serve_policy import ServePolicyCommandConfig
from bricobot.policies.checkpoint import CheckpointError
from bricobot.runtime.remote.protocol import RemoteError


def test_the_checkpoint_is_required(capsys) -> None:
    assert serve_policy.run(ServePolicyCommandConfig()) == 2
    assert "policy_path=" in capsys.readouterr().err


def test_a_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nope"):
        serve_policy.run(ServePolicyCommandConfig(policy_path=str(tmp_path / "nope"), port=0))


def test_the_network_without_a_token_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BRICOBOT_POLICY_TOKEN", raising=False)
    checkpoint = tiny_act_checkpoint(FakeRobot(), tmp_path / "act")
    cfg = ServePolicyCommandConfig(policy_path=str(checkpoint), host="0.0.0.0", port=0)
    with pytest.raises(RemoteError, match="token=<secret> or BRICOBOT_POLICY_TOKEN"):
        serve_policy.run(cfg)


@pytest.mark.parametrize("remote", ["gpu-box", "gpu-box:http", ":8765", "gpu-box:99999"])
def test_a_remote_that_is_not_host_port_is_a_command_line_error(remote: str, capsys) -> None:
    cfg = RolloutCommandConfig(robot=FakeRobotConfig(), remote=remote, keyboard=False)
    assert rollout_cli.run(cfg) == 2
    assert "is not HOST:PORT" in capsys.readouterr().err


def test_rollout_needs_a_checkpoint_or_a_remote(capsys) -> None:
    assert rollout_cli.run(RolloutCommandConfig(robot=FakeRobotConfig())) == 2
    assert "remote=HOST:PORT" in capsys.readouterr().err


def test_rollout_refuses_both_a_checkpoint_and_a_remote(capsys) -> None:
    cfg = RolloutCommandConfig(robot=FakeRobotConfig(), policy_path="ckpt", remote="h:8765")
    assert rollout_cli.run(cfg) == 2
    assert "not both" in capsys.readouterr().err
