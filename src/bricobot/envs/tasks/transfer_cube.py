"""Bimanual TransferCube: the right SO-101 picks a block and hands it to the left one, which lifts it.

Two arms face each other (``left_*`` and ``right_*`` joints, as the bimanual robot names its keys).
The block is 2.5 × 2.5 × 10 cm, long enough for both grippers to hold it at once (each near one
end), which is what a handover needs when both grasp from above.

Success predicate (:func:`handed_over`): the block is held by both jaws of the left gripper, no
part of the right gripper touches it, and it is at least ``lift_height_m`` above its rest height,
for ``hold_steps`` consecutive control steps. ``info["is_success"]`` reports it every step.

Reward terms (each in ``info["reward_terms"]``): ``right_reach`` (1 − tanh(10·distance from the
right grasp point to its end of the block)), ``right_grasp``, ``lift`` (lifted fraction of the lift
height), ``left_grasp``, ``released`` (the left holds it and the right does not touch it) and
``success``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bricobot.envs.task import Task, TaskConfig, uniform
from bricobot.envs.tasks.pick_cube import PickCube, gripper_geoms, touched_geoms


def handed_over(
    height_m: float,
    rest_height_m: float,
    left_fixed: bool,
    left_moving: bool,
    right_touches: bool,
    lift_height_m: float = 0.05,
) -> bool:
    """The per-step condition: lifted, in both left jaws, and free of the right gripper."""
    lifted = bool(height_m - rest_height_m >= lift_height_m)
    return lifted and left_fixed and left_moving and not right_touches


@dataclass
class TransferCubeConfig(TaskConfig):
    """TransferCube settings; the block is placed in front of the right arm (metres, radians)."""

    type: str = "bimanual_so101_transfer_cube"
    cameras: list[str] = field(default_factory=lambda: ["front", "left_wrist", "right_wrist"])
    episode_length: int = 240
    block_x_range_m: list[float] = field(default_factory=lambda: [0.15, 0.2])
    block_y_range_m: list[float] = field(default_factory=lambda: [-0.06, 0.06])
    #: Around 90°: the block lies across the line between the arms, so each grips an end with
    #: its wrist near the middle of its roll range.
    block_yaw_range_rad: list[float] = field(default_factory=lambda: [1.17, 1.97])
    lift_height_m: float = 0.05
    hold_steps: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("block_x_range_m", "block_y_range_m", "block_yaw_range_rad"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be [low, high] with low <= high, got {[lo, hi]}")
        if self.lift_height_m <= 0 or self.hold_steps < 1:
            raise ValueError("lift_height_m must be > 0 and hold_steps >= 1")


#: One arm's joint targets at the start of every episode (PickCube's home, in the arm's frame).
ARM_HOME = np.array([0.0, -18.0, 13.0, 94.0, 3.0, 40.0])


class TransferCube(Task):
    """Hand the red block from the right arm to the left arm."""

    scene_file = "scene_bimanual_transfer_cube.xml"
    description = "Pick up the red block with the right arm and hand it to the left arm."
    arm_prefixes = ("left_", "right_")
    object_geoms = ("block",)
    sized_geoms = ("block",)
    reward_weights = {  # noqa: RUF012
        "right_reach": 1.0,
        "right_grasp": 1.0,
        "lift": 1.0,
        "left_grasp": 2.0,
        "released": 2.0,
        "success": 5.0,
    }

    config: TransferCubeConfig

    def __init__(self, config: TransferCubeConfig) -> None:
        super().__init__(config)
        self.block_joint = self.model.joint("block")
        self.block_body = self.model.body("block").id
        self.block_geom = self.model.geom("block").id
        self.grasp_sites = {p: self.model.site(p + "grasp").id for p in self.arm_prefixes}
        self.gripper_geoms = {p: gripper_geoms(self.model, p) for p in self.arm_prefixes}
        self.fixed_jaw_geoms = {
            p: {self.model.geom(p + n).id for n in PickCube.fixed_jaw_names}
            for p in self.arm_prefixes
        }
        self.moving_jaw_geoms = {
            p: {self.model.geom(p + n).id for n in PickCube.moving_jaw_names}
            for p in self.arm_prefixes
        }
        self.held_steps = 0

    @property
    def half_size_m(self) -> np.ndarray:
        """Half extents (3,) of the block this episode (randomization may scale them)."""
        return self.model.geom_size[self.block_geom].copy()

    @property
    def rest_height_m(self) -> float:
        return float(self.half_size_m[2])

    def home_pose(self) -> np.ndarray:
        return np.concatenate([ARM_HOME, ARM_HOME])

    def randomize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        x = uniform(rng, cfg.block_x_range_m)
        y = uniform(rng, cfg.block_y_range_m)
        yaw = uniform(rng, cfg.block_yaw_range_rad)
        adr = self.block_joint.qposadr[0]
        self.data.qpos[adr : adr + 3] = (x, y, self.rest_height_m)
        self.data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))

    def on_reset(self) -> None:
        self.held_steps = 0

    def after_step(self) -> None:
        self.held_steps = self.held_steps + 1 if self._handed_over() else 0

    # ---- privileged state ----------------------------------------------------------------------

    @property
    def block_position(self) -> np.ndarray:
        return self.data.xpos[self.block_body].copy()

    @property
    def block_axis(self) -> np.ndarray:
        """Unit vector (3,) along the block's long side, in the world."""
        return self.data.xmat[self.block_body].reshape(3, 3)[:, 0].copy()

    def grasp_position(self, prefix: str) -> np.ndarray:
        return self.data.site_xpos[self.grasp_sites[prefix]].copy()

    def jaw_contacts(self, prefix: str) -> tuple[bool, bool]:
        """Whether the block touches the fixed jaw and the moving jaw of arm ``prefix``."""
        touching = touched_geoms(self.data, self.block_geom)
        fixed, moving = self.fixed_jaw_geoms[prefix], self.moving_jaw_geoms[prefix]
        return bool(touching & fixed), bool(touching & moving)

    def gripper_touches(self, prefix: str) -> bool:
        return bool(touched_geoms(self.data, self.block_geom) & self.gripper_geoms[prefix])

    def _handed_over(self) -> bool:
        return handed_over(
            float(self.block_position[2]),
            self.rest_height_m,
            *self.jaw_contacts("left_"),
            self.gripper_touches("right_"),
            self.config.lift_height_m,
        )

    # ---- task outputs --------------------------------------------------------------------------

    def end_position(self, prefix: str, offset_m: float = 0.03) -> np.ndarray:
        """The point ``offset_m`` from the block's centre along its axis where arm ``prefix``
        holds it (the right arm on the -axis side, the left on the +axis side)."""
        sign = 1.0 if prefix == "left_" else -1.0
        return self.block_position + sign * offset_m * self.block_axis

    def reward_terms(self) -> dict[str, float]:
        right_end = self.end_position("right_")
        reach = float(np.linalg.norm(self.grasp_position("right_") - right_end))
        lift = (float(self.block_position[2]) - self.rest_height_m) / self.config.lift_height_m
        left = all(self.jaw_contacts("left_"))
        return {
            "right_reach": 1.0 - float(np.tanh(10.0 * reach)),
            "right_grasp": float(all(self.jaw_contacts("right_"))),
            "lift": float(np.clip(lift, 0.0, 1.0)),
            "left_grasp": float(left),
            "released": float(left and not self.gripper_touches("right_")),
            "success": float(self.is_success()),
        }

    def is_success(self) -> bool:
        return self.held_steps >= self.config.hold_steps
