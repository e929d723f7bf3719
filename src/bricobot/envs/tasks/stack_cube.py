"""StackCube: the SO-101 puts the red 2.5 cm cube on top of the green one.

Success predicate: :func:`stacked` (the red cube's centre is over the green cube's top face, one
edge length above the green cube's centre, both cubes still, and the gripper does not touch the red
cube) holds for ``stable_s`` (0.5 s) of consecutive control steps, so a cube that is let go and then
slides off, or one still settling, does not count. ``info["is_success"]`` reports it every step.

Reward terms (each in ``info["reward_terms"]``): ``reach``, ``grasp`` (as PickCube), ``align``
(1 − tanh(10·distance from the red cube to its stacked position)), ``stacked`` (the per-step
condition) and ``success``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bricobot.envs.task import uniform
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig, gripper_geoms, touched_geoms


def stacked(
    offset_m: np.ndarray,
    half_size_m: float,
    top_speed_m_s: float,
    base_speed_m_s: float,
    touches_gripper: bool,
    rest_speed_m_s: float = 0.02,
    height_tolerance_m: float = 0.003,
) -> bool:
    """The per-step stacking condition. ``offset_m`` (3,): top cube centre minus base cube centre.

    Over the base's top face (|dx|, |dy| <= half an edge), resting on it (dz within
    ``height_tolerance_m`` of one edge), both cubes still, and the top one released.
    """
    over = bool(np.all(np.abs(offset_m[:2]) <= half_size_m))
    on_top = bool(abs(float(offset_m[2]) - 2 * half_size_m) <= height_tolerance_m)
    still = bool(top_speed_m_s < rest_speed_m_s and base_speed_m_s < rest_speed_m_s)
    return over and on_top and still and not touches_gripper


@dataclass
class StackCubeConfig(PickCubeConfig):
    """StackCube settings: both cubes are placed uniformly in the given ranges (metres, radians)."""

    type: str = "so101_stack_cube"
    episode_length: int = 180
    cube_x_range_m: list[float] = field(default_factory=lambda: [0.15, 0.24])
    cube_y_range_m: list[float] = field(default_factory=lambda: [-0.12, 0.12])
    #: Smallest horizontal distance between the two cubes at reset.
    min_separation_m: float = 0.06
    #: How long the stack must stay put (seconds) to count as a success.
    stable_s: float = 0.5
    rest_speed_m_s: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stable_s <= 0 or self.min_separation_m < 0:
            raise ValueError("stable_s must be > 0 and min_separation_m >= 0")


class StackCube(PickCube):
    """Stack the red cube on the green cube; both are placed from the seed."""

    scene_file = "scene_stack_cube.xml"
    description = "Put the red cube on top of the green cube."
    reward_weights = {  # noqa: RUF012
        "reach": 1.0,
        "grasp": 1.0,
        "align": 2.0,
        "stacked": 1.0,
        "success": 5.0,
    }
    object_geoms = ("cube", "base_cube")
    sized_geoms = ("cube", "base_cube")

    config: StackCubeConfig

    def __init__(self, config: StackCubeConfig) -> None:
        super().__init__(config)
        self.base_joint = self.model.joint("base_cube")
        self.base_body = self.model.body("base_cube").id
        self.gripper_geoms = gripper_geoms(self.model)
        self.stable_steps = max(1, round(config.stable_s * config.control_hz))

    def randomize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        while True:  # rejection sampling: deterministic under the seed
            xy = np.array(
                [
                    [uniform(rng, cfg.cube_x_range_m), uniform(rng, cfg.cube_y_range_m)]
                    for _ in range(2)
                ]
            )
            if np.linalg.norm(xy[0] - xy[1]) >= cfg.min_separation_m:
                break
        for joint, (x, y) in zip((self.cube_joint, self.base_joint), xy, strict=True):
            yaw = uniform(rng, cfg.cube_yaw_range_rad)
            adr = joint.qposadr[0]
            self.data.qpos[adr : adr + 3] = (x, y, self.rest_height_m)
            self.data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))

    def after_step(self) -> None:
        self.held_steps = self.held_steps + 1 if self.stacked_now() else 0

    # ---- privileged state ----------------------------------------------------------------------

    @property
    def base_position(self) -> np.ndarray:
        return self.data.xpos[self.base_body].copy()

    @property
    def base_yaw(self) -> float:
        w, _, _, z = self.data.xquat[self.base_body]
        return float(2.0 * np.arctan2(z, w))

    def _speed(self, joint: object) -> float:
        adr = joint.dofadr[0]  # type: ignore[attr-defined]
        return float(np.linalg.norm(self.data.qvel[adr : adr + 3]))

    def stacked_now(self) -> bool:
        return stacked(
            self.cube_position - self.base_position,
            self.half_size_m,
            self._speed(self.cube_joint),
            self._speed(self.base_joint),
            bool(touched_geoms(self.data, self.cube_geom) & self.gripper_geoms),
            self.config.rest_speed_m_s,
        )

    # ---- task outputs --------------------------------------------------------------------------

    def reward_terms(self) -> dict[str, float]:
        distance = float(np.linalg.norm(self.grasp_position - self.cube_position))
        fixed, moving = self.jaw_contacts()
        goal = self.base_position + np.array([0.0, 0.0, 2 * self.half_size_m])
        return {
            "reach": 1.0 - float(np.tanh(10.0 * distance)),
            "grasp": float(fixed and moving),
            "align": 1.0 - float(np.tanh(10.0 * np.linalg.norm(self.cube_position - goal))),
            "stacked": float(self.stacked_now()),
            "success": float(self.is_success()),
        }

    def is_success(self) -> bool:
        return self.held_steps >= self.stable_steps
