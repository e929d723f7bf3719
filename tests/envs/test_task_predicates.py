"""Success predicates of the benchmark tasks on hand-built states (pure functions and real scenes)."""

from __future__ import annotations

import numpy as np
import pytest

from bricobot.envs.tasks.place_cube import PlaceCube, PlaceCubeConfig, cube_in_tray
from bricobot.envs.tasks.push_t import PushT, PushTConfig, clip_convex, coverage, polygon_area
from bricobot.envs.tasks.stack_cube import StackCube, StackCubeConfig, stacked
from bricobot.envs.tasks.transfer_cube import TransferCube, TransferCubeConfig, handed_over

HALF = 0.0125  # half edge of a 2.5 cm cube


@pytest.mark.parametrize(
    ("offset", "speed", "touching", "expected"),
    [
        ((0.0, 0.0, 0.003 + HALF), 0.0, False, True),  # resting in the middle, released
        ((0.035, -0.02, 0.003 + HALF), 0.0, False, True),  # near a wall, still inside
        ((0.045, 0.0, 0.003 + HALF), 0.0, False, False),  # centre beyond the inner wall
        ((0.0, 0.0, 0.003 + HALF), 0.0, True, False),  # still in the gripper
        ((0.0, 0.0, 0.003 + HALF), 0.1, False, False),  # still moving (dropped, bouncing)
        ((0.0, 0.0, 0.06), 0.0, False, False),  # held above the tray
    ],
)
def test_cube_in_tray(
    offset: tuple[float, ...], speed: float, touching: bool, expected: bool
) -> None:
    assert cube_in_tray(np.array(offset), HALF, 0.0415, 0.003, speed, touching) is expected


@pytest.mark.parametrize(
    ("offset", "touching", "base_speed", "expected"),
    [
        ((0.0, 0.0, 2 * HALF), False, 0.0, True),
        ((0.01, -0.01, 2 * HALF), False, 0.0, True),  # off centre but over the top face
        ((0.015, 0.0, 2 * HALF), False, 0.0, False),  # centre past the edge: will tip over
        ((0.0, 0.0, 2 * HALF), True, 0.0, False),  # not released
        ((0.0, 0.0, 2 * HALF + 0.01), False, 0.0, False),  # floating above (still held/falling)
        ((0.03, 0.0, 0.0), False, 0.0, False),  # side by side on the table
        ((0.0, 0.0, 2 * HALF), False, 0.1, False),  # the base is sliding
    ],
)
def test_stacked(
    offset: tuple[float, ...], touching: bool, base_speed: float, expected: bool
) -> None:
    assert stacked(np.array(offset), HALF, 0.0, base_speed, touching) is expected


@pytest.mark.parametrize(
    ("height", "left", "right_touches", "expected"),
    [
        (0.08, (True, True), False, True),
        (0.08, (True, True), True, False),  # both grippers still on it
        (0.08, (True, False), False, False),  # pinned by one left jaw only
        (0.05, (True, True), False, False),  # not lifted enough
    ],
)
def test_handed_over(
    height: float, left: tuple[bool, bool], right_touches: bool, expected: bool
) -> None:
    assert handed_over(height, HALF, *left, right_touches, 0.05) is expected


def test_polygon_clipping_and_area() -> None:
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert polygon_area(square) == pytest.approx(1.0)
    shifted = square + np.array([0.5, 0.25])
    assert polygon_area(clip_convex(square, shifted)) == pytest.approx(0.375)
    assert polygon_area(clip_convex(square, square + np.array([2.0, 0.0]))) == 0.0


@pytest.fixture(scope="module")
def push_t() -> PushT:
    return PushT(PushTConfig(cameras=[]))


@pytest.mark.parametrize(
    ("offset", "low", "high"),
    [
        ((0.0, 0.0, 0.0), 0.9999, 1.0001),
        ((0.002, 0.0, 0.0), 0.95, 0.96),  # 2 mm off: just above the 95 % threshold
        ((0.0, 0.0, np.pi), 0.0, 0.45),  # upside down
        ((0.3, 0.0, 0.0), 0.0, 0.0),  # nowhere near
    ],
)
def test_coverage_of_hand_built_poses(
    push_t: PushT, offset: tuple[float, ...], low: float, high: float
) -> None:
    pose = push_t.target_pose + np.array(offset)
    assert low <= coverage(pose, push_t.target_pose, push_t.parts) <= high


def test_push_t_success_follows_the_block_pose(push_t: PushT) -> None:
    push_t.reset(0)
    assert not push_t.is_success()
    push_t.data.qpos[push_t._pose_idx] = push_t.target_pose + np.array([0.001, 0.0, 0.0])
    assert push_t.is_success() and push_t.reward()[1]["coverage"] > 0.95


def test_place_cube_success_in_the_scene() -> None:
    task = PlaceCube(PlaceCubeConfig(cameras=[]))
    task.reset(0)
    assert not task.is_success()
    adr = task.cube_joint.qposadr[0]
    task.data.qpos[adr : adr + 3] = task.tray_position + np.array(
        [0, 0, task.floor_height_m + HALF]
    )
    task.data.qpos[adr + 3 : adr + 7] = (1, 0, 0, 0)
    for _ in range(5):
        task.step(task.home_pose())
    assert task.is_success()


def test_stack_cube_needs_half_a_second_of_stillness() -> None:
    task = StackCube(StackCubeConfig(cameras=[]))
    task.reset(0)
    adr = task.cube_joint.qposadr[0]
    task.data.qpos[adr : adr + 3] = task.base_position + np.array([0, 0, 2 * HALF])
    task.data.qpos[adr + 3 : adr + 7] = task.data.qpos[
        task.base_joint.qposadr[0] + 3 : task.base_joint.qposadr[0] + 7
    ]
    successes = []
    for _ in range(task.stable_steps + 2):
        task.step(task.home_pose())
        successes.append(task.is_success())
    assert not any(successes[: task.stable_steps - 1]) and successes[-1]


def test_transfer_cube_block_on_the_table_is_not_a_success() -> None:
    task = TransferCube(TransferCubeConfig(cameras=[]))
    task.reset(0)
    adr = task.block_joint.qposadr[0]
    task.data.qpos[adr + 2] = 0.2  # hand-built: floating high, in no gripper
    for _ in range(task.config.hold_steps + 1):
        task.step(task.home_pose())
    assert not task.is_success()
