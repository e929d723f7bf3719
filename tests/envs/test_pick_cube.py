"""PickCube: the success predicate, seeded resets, units, and the scripted expert."""

from __future__ import annotations

import numpy as np
import pytest

from bricobot.envs.experts import PickCubeExpert, run_expert
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig, lifted_and_held


@pytest.fixture(scope="module")
def task() -> PickCube:
    return PickCube(PickCubeConfig(cameras=[]))


@pytest.mark.parametrize(
    ("height_m", "fixed", "moving", "expected"),
    [
        (0.0125, True, True, False),  # held but resting on the table
        (0.0625, True, True, True),  # lifted exactly 5 cm, in both jaws
        (0.10, True, False, False),  # lifted but pinned by one jaw only (a push, not a grasp)
        (0.10, False, False, False),  # in the air without the gripper: thrown or bouncing
        (0.0624, True, True, False),  # 1 mm short of the lift height
    ],
)
def test_success_predicate_on_hand_built_states(
    height_m: float, fixed: bool, moving: bool, expected: bool
) -> None:
    assert lifted_and_held(height_m, 0.0125, fixed, moving, 0.05) is expected


def test_cube_floating_without_gripper_is_not_a_success(task: PickCube) -> None:
    task.reset(0)
    adr = task.cube_joint.qposadr[0]
    task.data.qpos[adr + 2] = 0.2  # hand-built state: cube 20 cm up, far from the jaws
    for _ in range(task.config.hold_steps + 1):
        task.step(task.home_pose())
    assert not task.is_success()


def test_reset_is_deterministic_under_a_seed(task: PickCube) -> None:
    task.reset(7)
    first = (task.cube_position, task.cube_yaw)
    task.reset(8)
    task.reset(7)
    assert np.allclose(task.cube_position, first[0]) and task.cube_yaw == pytest.approx(first[1])
    xs = []
    for seed in range(20):
        task.reset(seed)
        xs.append(task.cube_position)
    xs_arr = np.array(xs)
    cfg = task.config
    assert (
        xs_arr[:, 0].min() >= cfg.cube_x_range_m[0] and xs_arr[:, 0].max() <= cfg.cube_x_range_m[1]
    )
    assert (
        xs_arr[:, 1].min() >= cfg.cube_y_range_m[0] and xs_arr[:, 1].max() <= cfg.cube_y_range_m[1]
    )
    assert np.ptp(xs_arr[:, 0]) > 0.03  # actually randomized


def test_units_round_trip_and_gripper_percent(task: PickCube) -> None:
    values = np.array([10.0, -20.0, 30.0, 45.0, -90.0, 50.0])
    assert np.allclose(task.to_units(task.from_units(values)), values)
    closed, opened = (
        task.from_units(np.array([0, 0, 0, 0, 0, 0.0])),
        task.from_units(np.array([0, 0, 0, 0, 0, 100.0])),
    )
    assert np.rad2deg(closed[-1]) == pytest.approx(task.spec.gripper_closed_deg)
    assert np.rad2deg(opened[-1]) == pytest.approx(task.spec.gripper_open_deg)


def test_actions_are_clipped_to_limits_and_bad_ones_rejected(task: PickCube) -> None:
    task.reset(0)
    applied = task.step(np.array([500.0, 0, 0, 0, 0, -50.0]))
    assert applied[0] == pytest.approx(task.limits_high[0]) and applied[-1] == pytest.approx(
        task.limits_low[-1]
    )
    with pytest.raises(ValueError, match="non-finite"):
        task.step(np.array([0, np.nan, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        task.step(np.zeros(5))


def test_expert_lifts_the_cube_on_every_seed_of_a_sample(task: PickCube) -> None:
    run = run_expert(task, list(range(100, 110)))
    assert all(run.successes), run.successes


def test_expert_success_shows_in_reward_terms(task: PickCube) -> None:
    task.reset(3)
    expert = PickCubeExpert(task)
    for _ in range(task.config.episode_length):
        task.step(expert.act())
        if task.is_success():
            break
    _, terms = task.reward()
    assert terms["success"] == 1.0 and terms["grasp"] == 1.0 and terms["lift"] == 1.0


@pytest.mark.slow
def test_expert_success_rate_over_200_seeds(task: PickCube) -> None:
    run = run_expert(task, list(range(200)))
    assert run.success_rate >= 0.95
