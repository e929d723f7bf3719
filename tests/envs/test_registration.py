"""Gymnasium ids: one per env task, and usable from gymnasium without importing bricobot first."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import pytest

from bricobot.envs.registration import GYM_IDS, register_envs
from bricobot.envs.registry import ENVS


def test_every_env_task_has_a_plain_and_a_randomized_gym_id() -> None:
    import bricobot.envs  # noqa: F401  (registers the ids)

    plain = {i.task for i in GYM_IDS.values() if not i.overrides}
    randomized = {i.task for i in GYM_IDS.values() if i.overrides == {"randomize": True}}
    assert plain == randomized == set(ENVS)
    assert len(GYM_IDS) == 2 * len(ENVS)
    for env_id, gym_id in GYM_IDS.items():
        assert env_id in gym.registry
        assert env_id.endswith("Rand-v0") == bool(gym_id.overrides)


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
    assert all(gym.registry[env_id].kwargs == GYM_IDS[env_id].kwargs for env_id in GYM_IDS)


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
