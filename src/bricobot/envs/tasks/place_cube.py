"""PlaceCube: the SO-101 picks a 2.5 cm cube and puts it into a shallow tray.

Success predicate (:func:`cube_in_tray`): the cube's centre is over the tray's inner floor, low
enough to rest on it (not on a wall), the cube is still (speed below ``rest_speed_m_s``) and no part
of the gripper touches it. ``info["is_success"]`` reports it every step.

Reward terms (each in ``info["reward_terms"]``): ``reach`` (1 − tanh(10·distance from the grasp point
to the cube)), ``grasp`` (both jaws touch the cube), ``place`` (1 − tanh(10·horizontal distance from
the cube to the tray centre)) and ``success``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bricobot.envs.task import uniform
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig, gripper_geoms, touched_geoms


def cube_in_tray(
    offset_m: np.ndarray,
    cube_half_m: float,
    inner_half_m: float,
    floor_height_m: float,
    speed_m_s: float,
    touches_gripper: bool,
    rest_speed_m_s: float = 0.02,
) -> bool:
    """The success condition. ``offset_m`` (3,): cube centre minus the tray's centre on the table.

    Inside: centre over the inner floor; resting on it: centre below floor + half a diagonal (a
    cube tilted against a wall still counts, one lying on a wall does not); at rest and released.
    """
    inside = bool(np.all(np.abs(offset_m[:2]) <= inner_half_m))
    on_floor = bool(offset_m[2] <= floor_height_m + cube_half_m * np.sqrt(2) + 0.002)
    return inside and on_floor and bool(speed_m_s < rest_speed_m_s) and not touches_gripper


@dataclass
class PlaceCubeConfig(PickCubeConfig):
    """PlaceCube settings: the cube and the tray are placed uniformly in the given ranges."""

    type: str = "so101_place_cube"
    episode_length: int = 180
    cube_x_range_m: list[float] = field(default_factory=lambda: [0.15, 0.25])
    cube_y_range_m: list[float] = field(default_factory=lambda: [-0.12, 0.12])
    tray_x_range_m: list[float] = field(default_factory=lambda: [0.17, 0.24])
    tray_y_range_m: list[float] = field(default_factory=lambda: [-0.12, 0.12])
    #: Smallest horizontal distance between the cube and the tray centre at reset.
    min_separation_m: float = 0.10
    #: The cube counts as at rest below this speed.
    rest_speed_m_s: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("tray_x_range_m", "tray_y_range_m"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be [low, high] with low <= high, got {[lo, hi]}")


class PlaceCube(PickCube):
    """Put the red cube into the blue tray; both are placed from the seed."""

    scene_file = "scene_place_cube.xml"
    description = "Pick up the red cube and put it in the blue tray."
    reward_weights = {"reach": 1.0, "grasp": 1.0, "place": 2.0, "success": 5.0}  # noqa: RUF012
    tray_geoms = ("tray_floor", "tray_wall_px", "tray_wall_nx", "tray_wall_py", "tray_wall_ny")
    object_geoms = ("cube", *tray_geoms)

    config: PlaceCubeConfig

    def __init__(self, config: PlaceCubeConfig) -> None:
        super().__init__(config)
        self.tray_mocap = int(self.model.body("tray").mocapid[0])
        floor = self.model.geom("tray_floor").id
        wall = self.model.geom("tray_wall_px")
        self.floor_height_m = float(self.model.geom_pos[floor][2] + self.model.geom_size[floor][2])
        self.inner_half_m = float(wall.pos[0] - wall.size[0])
        self.gripper_geoms = gripper_geoms(self.model)

    def randomize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        while True:  # rejection sampling: deterministic under the seed
            cube_xy = np.array([uniform(rng, cfg.cube_x_range_m), uniform(rng, cfg.cube_y_range_m)])
            tray_xy = np.array([uniform(rng, cfg.tray_x_range_m), uniform(rng, cfg.tray_y_range_m)])
            if np.linalg.norm(cube_xy - tray_xy) >= cfg.min_separation_m:
                break
        yaw = uniform(rng, cfg.cube_yaw_range_rad)
        adr = self.cube_joint.qposadr[0]
        self.data.qpos[adr : adr + 3] = (*cube_xy, self.rest_height_m)
        self.data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        self.data.mocap_pos[self.tray_mocap] = (*tray_xy, 0.0)

    def after_step(self) -> None:
        pass  # no hold counter: success is a property of the current state

    # ---- privileged state ----------------------------------------------------------------------

    @property
    def tray_position(self) -> np.ndarray:
        """Centre of the tray on the table (z = 0), metres (3,)."""
        return self.data.mocap_pos[self.tray_mocap].copy()

    @property
    def cube_speed_m_s(self) -> float:
        adr = self.cube_joint.dofadr[0]
        return float(np.linalg.norm(self.data.qvel[adr : adr + 3]))

    def gripper_touches_cube(self) -> bool:
        return bool(touched_geoms(self.data, self.cube_geom) & self.gripper_geoms)

    # ---- task outputs --------------------------------------------------------------------------

    def reward_terms(self) -> dict[str, float]:
        distance = float(np.linalg.norm(self.grasp_position - self.cube_position))
        fixed, moving = self.jaw_contacts()
        to_tray = float(np.linalg.norm((self.cube_position - self.tray_position)[:2]))
        return {
            "reach": 1.0 - float(np.tanh(10.0 * distance)),
            "grasp": float(fixed and moving),
            "place": 1.0 - float(np.tanh(10.0 * to_tray)),
            "success": float(self.is_success()),
        }

    def is_success(self) -> bool:
        return cube_in_tray(
            self.cube_position - self.tray_position,
            self.half_size_m,
            self.inner_half_m,
            self.floor_height_m,
            self.cube_speed_m_s,
            self.gripper_touches_cube(),
            self.config.rest_speed_m_s,
        )
