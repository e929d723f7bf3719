"""PickCube: the SO-101 on a table lifts a 2.5 cm cube.

Success predicate (:func:`lifted_and_held`): the cube's centre is at least ``lift_height_m``
(5 cm) above its resting height **and** it touches both jaws, for ``hold_steps`` consecutive control
steps. Requiring both jaws rules out a cube that was knocked or thrown into the air; requiring
consecutive steps rules out a momentary bounce. ``info["is_success"]`` reports it every step.

Reward terms (each in ``info["reward_terms"]``): ``reach`` (1 − tanh(10·distance from the grasp point
to the cube)), ``grasp`` (both jaws touch the cube), ``lift`` (lifted fraction of the 5 cm, clipped
to [0, 1]) and ``success``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bricobot.envs.task import Task, TaskConfig


def lifted_and_held(
    cube_height_m: float,
    rest_height_m: float,
    touches_fixed_jaw: bool,
    touches_moving_jaw: bool,
    lift_height_m: float = 0.05,
) -> bool:
    """The per-step success condition: lifted at least ``lift_height_m`` and held by both jaws."""
    return (
        cube_height_m - rest_height_m >= lift_height_m and touches_fixed_jaw and touches_moving_jaw
    )


@dataclass
class PickCubeConfig(TaskConfig):
    """PickCube settings; the cube is placed uniformly in the given ranges (metres, radians)."""

    type: str = "so101_pick_cube"
    episode_length: int = 120
    cube_x_range_m: list[float] = field(default_factory=lambda: [0.16, 0.26])
    cube_y_range_m: list[float] = field(default_factory=lambda: [-0.10, 0.10])
    cube_yaw_range_rad: list[float] = field(default_factory=lambda: [-0.785, 0.785])
    lift_height_m: float = 0.05
    #: Consecutive control steps the lifted cube must stay held to count as a success.
    hold_steps: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("cube_x_range_m", "cube_y_range_m", "cube_yaw_range_rad"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be [low, high] with low <= high, got {[lo, hi]}")
        if self.lift_height_m <= 0 or self.hold_steps < 1:
            raise ValueError("lift_height_m must be > 0 and hold_steps >= 1")


#: Joint targets at the start of every episode: gripper pointing down 10 cm above the workspace,
#: 40 % open (degrees; gripper in percent).
HOME_POSE = np.array([0.0, -18.0, 13.0, 94.0, 3.0, 40.0])


class PickCube(Task):
    """Lift a cube placed at a seeded random position and yaw in front of the arm."""

    scene_file = "scene_pick_cube.xml"
    description = "Pick up the red cube and lift it."
    reward_weights = {"reach": 1.0, "grasp": 1.0, "lift": 2.0, "success": 5.0}  # noqa: RUF012
    object_geoms: tuple[str, ...] = ("cube",)
    sized_geoms: tuple[str, ...] = ("cube",)
    #: Geoms of each jaw (contacts with both = a grasp) and the site where a held cube's centre is.
    fixed_jaw_names: tuple[str, ...] = ("fixed_pad", "fixed_jaw")
    moving_jaw_names: tuple[str, ...] = ("moving_pad", "moving_jaw_finger", "moving_jaw_root")
    grasp_site_name = "grasp"
    #: Yaw of the grasp frame's closing axis relative to the direction from the shoulder pan
    #: axis to the cube, with the wrist roll near its middle (the expert's preferred grasp).
    grasp_yaw_offset_rad = 0.0
    #: Tilt of the jaws from vertical toward the arm when grasping (0: straight down).
    grasp_tilt_rad = 0.0

    config: PickCubeConfig

    def __init__(self, config: PickCubeConfig) -> None:
        super().__init__(config)
        self.cube_joint = self.model.joint("cube")
        self.cube_body = self.model.body("cube").id
        self.cube_geom = self.model.geom("cube").id
        self.grasp_site = self.model.site(self.grasp_site_name).id
        self.fixed_jaw_geoms = {self.model.geom(n).id for n in self.fixed_jaw_names}
        self.moving_jaw_geoms = {self.model.geom(n).id for n in self.moving_jaw_names}
        self.held_steps = 0

    @property
    def half_size_m(self) -> float:
        """Half the cube's edge this episode (randomization may scale it)."""
        return float(self.model.geom_size[self.cube_geom][0])

    @property
    def rest_height_m(self) -> float:
        """Height of the cube's centre when it rests on the table."""
        return self.half_size_m

    def home_pose(self) -> np.ndarray:
        return HOME_POSE.copy()

    def randomize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        x = rng.uniform(cfg.cube_x_range_m[0], cfg.cube_x_range_m[1])
        y = rng.uniform(cfg.cube_y_range_m[0], cfg.cube_y_range_m[1])
        yaw = rng.uniform(cfg.cube_yaw_range_rad[0], cfg.cube_yaw_range_rad[1])
        adr = self.cube_joint.qposadr[0]
        self.data.qpos[adr : adr + 3] = (x, y, self.rest_height_m)
        self.data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))

    def on_reset(self) -> None:
        self.held_steps = 0

    def after_step(self) -> None:
        self.held_steps = self.held_steps + 1 if self._lifted_and_held() else 0

    # ---- privileged state (for the expert, rewards and tests) ----------------------------------

    @property
    def cube_position(self) -> np.ndarray:
        return self.data.xpos[self.cube_body].copy()

    @property
    def cube_yaw(self) -> float:
        w, _, _, z = self.data.xquat[self.cube_body]
        return float(2.0 * np.arctan2(z, w))

    @property
    def grasp_position(self) -> np.ndarray:
        return self.data.site_xpos[self.grasp_site].copy()

    def jaw_contacts(self) -> tuple[bool, bool]:
        """Whether the cube touches the fixed jaw and the moving jaw."""
        touching = touched_geoms(self.data, self.cube_geom)
        return bool(touching & self.fixed_jaw_geoms), bool(touching & self.moving_jaw_geoms)

    def _lifted_and_held(self) -> bool:
        fixed, moving = self.jaw_contacts()
        return lifted_and_held(
            float(self.cube_position[2]),
            self.rest_height_m,
            fixed,
            moving,
            self.config.lift_height_m,
        )

    # ---- task outputs --------------------------------------------------------------------------

    def reward_terms(self) -> dict[str, float]:
        distance = float(np.linalg.norm(self.grasp_position - self.cube_position))
        fixed, moving = self.jaw_contacts()
        lift = (float(self.cube_position[2]) - self.rest_height_m) / self.config.lift_height_m
        return {
            "reach": 1.0 - float(np.tanh(10.0 * distance)),
            "grasp": float(fixed and moving),
            "lift": float(np.clip(lift, 0.0, 1.0)),
            "success": float(self.is_success()),
        }

    def is_success(self) -> bool:
        return self.held_steps >= self.config.hold_steps


def touched_geoms(data: Any, geom: int) -> set[int]:
    """Ids of the geoms in contact with ``geom`` at the current step."""
    first, second = data.contact.geom1[: data.ncon], data.contact.geom2[: data.ncon]
    return {int(g) for g in second[first == geom]} | {int(g) for g in first[second == geom]}


def gripper_geoms(model: Any, prefix: str = "") -> set[int]:
    """Ids of every geom on an SO-101 gripper and its moving jaw (``prefix``: the arm's)."""
    bodies = {model.body(prefix + "gripper").id, model.body(prefix + "moving_jaw").id}
    return {g for g in range(model.ngeom) if int(model.geom_bodyid[g]) in bodies}


def yaw_matrix_pointing_down(yaw_rad: float) -> np.ndarray:
    """Rotation (3, 3) of a gripper frame whose jaws point down and close along ``yaw_rad``."""
    x = np.array([np.cos(yaw_rad), np.sin(yaw_rad), 0.0])
    z = np.array([0.0, 0.0, 1.0])
    return np.stack([x, np.cross(z, x), z], axis=1)
