"""Contract test over every registered sim task (dm_control's suite_test.py is the model).

Each task: its gymnasium env passes gymnasium's checker with and without cameras and matches its
spec; a seed fixes the episode; the success predicate is false at reset; every camera of the scene
renders a non-blank frame; the randomized variant changes the scene and is deterministic too; and
its scripted expert (the one named by its registry entry) succeeds on a few seeds.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from bricobot.envs.experts import make_expert
from bricobot.envs.registration import GYM_IDS
from bricobot.envs.registry import ENVS, env_entry
from bricobot.envs.task import Task
from bricobot.loading import from_dict

TASKS = sorted(ENVS)
#: Seeds the expert must solve (kept few: this file runs in CI on two cores).
EXPERT_SEEDS = (1, 2)


def gym_id(task: str, randomized: bool = False) -> str:
    return next(i for i, g in GYM_IDS.items() if g.task == task and bool(g.overrides) == randomized)


def make_task(name: str, **overrides: Any) -> Task:
    entry = ENVS[name]
    task: Task = entry.impl_class()(from_dict(entry.config_class(), {"type": name, **overrides}))
    return task


@pytest.fixture(scope="module", params=TASKS)
def task(request: pytest.FixtureRequest) -> Task:
    return make_task(request.param, cameras=[])


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("with_cameras", [False, True], ids=["state", "cameras"])
def test_gym_env_passes_the_checker_and_matches_its_spec(name: str, with_cameras: bool) -> None:
    overrides: dict[str, Any] = {"image_height": 24, "image_width": 32}
    if not with_cameras:
        overrides["cameras"] = []
    env = gym.make(gym_id(name), **overrides)
    check_env(env.unwrapped, skip_render_check=True)
    task = env.unwrapped.task  # type: ignore[attr-defined]
    obs, info = env.reset(seed=0)
    cameras = task.config.cameras
    assert set(obs) == {"observation.state", *(f"observation.images.{c}" for c in cameras)}
    assert obs["observation.state"].shape == (len(task.joint_names),)
    assert env.action_space.shape == (len(task.joint_names),)
    assert env.observation_space.contains(obs)
    assert set(info["reward_terms"]) == set(task.reward_weights)
    assert info["is_success"] is False, "the success predicate must be false at reset"
    obs, reward, _, _, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and np.isfinite(reward)
    env.close()


def _rollout(env_id: str, seed: int, steps: int = 5) -> np.ndarray:
    env = gym.make(env_id, cameras=["front"], image_height=16, image_width=16)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs["observation.state"], obs["observation.images.front"].astype(np.float32).ravel()]
    for _ in range(steps):
        obs, *_ = env.step(env.action_space.sample())
        out.append(obs["observation.state"])
    env.close()
    return np.concatenate(out)


@pytest.mark.parametrize("randomized", [False, True], ids=["plain", "randomized"])
@pytest.mark.parametrize("name", TASKS)
def test_a_seed_fixes_the_episode(name: str, randomized: bool) -> None:
    env_id = gym_id(name, randomized)
    first = _rollout(env_id, seed=3)
    assert np.array_equal(first, _rollout(env_id, seed=3))
    assert not np.array_equal(first, _rollout(env_id, seed=4))


def test_randomized_variant_changes_the_scene_but_not_the_placement(task: Task) -> None:
    name = task.config.type
    randomized = make_task(name, cameras=[], randomize=True)
    task.reset(5)
    randomized.reset(5)
    assert task.randomization_values == {}
    assert set(randomized.randomization_values) >= {"light_scale", "friction_scale"}
    assert not np.allclose(task.model.cam_pos, randomized.model.cam_pos)
    # Objects are placed from the same stream in both variants (sizes may differ).
    free = [j for j in range(task.model.njnt) if task.model.jnt_type[j] == 0]
    for joint in free:
        adr = task.model.jnt_qposadr[joint]
        assert np.allclose(task.data.qpos[adr : adr + 2], randomized.data.qpos[adr : adr + 2])


def test_success_is_false_at_reset(task: Task) -> None:
    for seed in range(5):
        task.reset(seed)
        assert not task.is_success()
        assert task.reward()[1].get("success", 0.0) == 0.0


def test_every_camera_renders_a_non_blank_frame(task: Task) -> None:
    task.reset(0)
    names = [task.model.camera(i).name for i in range(task.model.ncam)]
    assert names, "a task needs at least one camera"
    for name in names:
        frame = task.render(name, 32, 32)
        assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8
        assert frame.std() > 5, f"camera {name!r} of {task.config.type} renders a blank frame"


def test_registry_entry_names_an_expert_that_solves_a_few_seeds(task: Task) -> None:
    entry = env_entry(task.config.type)
    assert entry.expert and entry.gym_name
    expert = make_expert(task)
    for seed in EXPERT_SEEDS:
        task.reset(seed)
        expert.reset()
        for _ in range(task.config.episode_length):
            task.step(expert.act())
            if task.is_success():
                break
        assert task.is_success(), f"{task.config.type}: the expert failed on seed {seed}"


def test_unknown_task_lists_the_choices() -> None:
    with pytest.raises(KeyError, match="valid choices"):
        env_entry("no_such_task")
