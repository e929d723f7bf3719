"""Gymnasium ids: one per env task, and usable from gymnasium without importing bricobot first."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import pytest

from bricobot.envs.registration import GYM_IDS, register_envs
from bricobot.envs.registry import ENVS


def test_every_env_task_has_a_registered_gym_id() -> None:
    import bricobot.envs  # noqa: F401  (registers the ids)

    assert sorted(task for _, task in GYM_IDS.values()) == sorted(ENVS)
    for env_id in GYM_IDS:
        assert env_id in gym.registry


def test_register_envs_only_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idempotent, and nothing but registry entries: no environment variable, no process."""
    register_envs()
    for env_id in GYM_IDS:
        monkeypatch.delitem(gym.registry, env_id)  # put back after the test
    environ = dict(os.environ)
    monkeypatch.setattr(subprocess, "Popen", None)  # any process started would fail here
    register_envs()
    register_envs()
    assert dict(os.environ) == environ
    assert all(gym.registry[env_id].kwargs == {"task": GYM_IDS[env_id][1]} for env_id in GYM_IDS)


def test_gym_make_with_no_bricobot_import() -> None:
    """Gymnasium >= 1.0 has no plugin discovery: the id names the module, gymnasium imports it."""
    code = (
        "import gymnasium as gym;"
        "env = gym.make('bricobot.envs:bricobot/SO101PickCube-v0', cameras=[]);"
        "obs, _ = env.reset(seed=0);"
        "print(env.spec.id, obs['observation.state'].shape)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["bricobot/SO101PickCube-v0", "(6,)"]
