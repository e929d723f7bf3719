"""PushT: the SO-101 pushes a T-shaped block on the table onto a fixed target pose (planar).

As in Diffusion Policy's PushT, the score is the **coverage**: the area of the target T covered by
the block, as a fraction of the T's area (:func:`coverage`, exact polygon clipping). Success
predicate: coverage >= ``success_coverage`` (0.95) at the current step. The block is planar (its
pose is (x, y, yaw) on the table) and starts at a seeded random pose around the target.

Reward terms (each in ``info["reward_terms"]``, so the coverage is reported every step):
``coverage``, ``reach`` (1 − tanh(10·distance from the jaws to the block's centroid)) and
``success``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bricobot.envs.task import Task, TaskConfig, uniform

# ---- planar geometry (pure functions, unit-tested on hand-built poses) --------------------------


def rectangle(center_xy: np.ndarray, half_xy: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Corners (4, 2), counter-clockwise, of a rectangle given in a body frame at ``pose``
    (x, y, yaw) on the table."""
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half_xy + center_xy  # (4, 2)
    c, s = np.cos(pose[2]), np.sin(pose[2])
    return local @ np.array([[c, s], [-s, c]]) + pose[:2]


def polygon_area(points: np.ndarray) -> float:
    """Area of a simple polygon (n, 2) (shoelace formula; 0 for fewer than 3 points)."""
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Intersection (k, 2) of convex polygon ``subject`` with convex counter-clockwise ``clip``
    (Sutherland–Hodgman)."""
    out = list(subject)
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a
        inside = [_cross(edge, p - a) >= 0 for p in out]
        points, out = out, []
        for j, p in enumerate(points):
            q = points[(j + 1) % len(points)]
            if inside[j]:
                out.append(p)
            if inside[j] != inside[(j + 1) % len(points)]:
                d = q - p
                t = _cross(edge, a - p) / _cross(edge, d)
                out.append(p + t * d)
        if not out:
            break
    return np.array(out).reshape(-1, 2)


def coverage(
    pose: np.ndarray, target: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]]
) -> float:
    """Fraction of the target shape covered by the shape at ``pose``; both are the union of the
    non-overlapping rectangles ``parts`` ((centre, half size) in the body frame)."""
    area = sum(4 * float(half[0] * half[1]) for _, half in parts)
    at_pose = [rectangle(c, h, pose) for c, h in parts]
    at_target = [rectangle(c, h, target) for c, h in parts]
    covered = sum(polygon_area(clip_convex(a, b)) for a in at_pose for b in at_target)
    return covered / area


# ---- the task -----------------------------------------------------------------------------------


@dataclass
class PushTConfig(TaskConfig):
    """PushT settings: the block starts uniformly in the given offsets from the target pose."""

    type: str = "so101_push_t"
    episode_length: int = 450
    start_dx_range_m: list[float] = field(default_factory=lambda: [-0.04, 0.04])
    start_dy_range_m: list[float] = field(default_factory=lambda: [-0.07, 0.07])
    start_dyaw_range_rad: list[float] = field(default_factory=lambda: [-1.05, 1.05])
    #: Starting poses covering more than this are drawn again (the task must need pushing).
    max_start_coverage: float = 0.6
    success_coverage: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("start_dx_range_m", "start_dy_range_m", "start_dyaw_range_rad"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} must be [low, high] with low <= high, got {[lo, hi]}")
        if not 0 < self.success_coverage <= 1 or not 0 <= self.max_start_coverage < 1:
            raise ValueError("success_coverage must be in (0, 1] and max_start_coverage in [0, 1)")


#: Joint targets at the start of every episode: jaws closed, pointing down 10 cm above the target
#: (degrees; gripper in percent).
HOME_POSE = np.array([0.0, -18.0, 13.0, 94.0, 3.0, 0.0])


class PushT(Task):
    """Push the blue T onto the green outline."""

    scene_file = "scene_push_t.xml"
    description = "Push the blue T onto the green T."
    reward_weights = {"coverage": 1.0, "reach": 0.1, "success": 5.0}  # noqa: RUF012
    object_geoms = ("t_bar", "t_stem", "target_bar", "target_stem")

    config: PushTConfig

    def __init__(self, config: PushTConfig) -> None:
        super().__init__(config)
        self._pose_idx = np.array([self.model.joint(n).qposadr[0] for n in ("t_x", "t_y", "t_yaw")])
        self.block_body = self.model.body("tblock").id
        self.grasp_site = self.model.site("grasp").id
        #: The T as rectangles (centre (2,), half size (2,)) in its body frame, from the MJCF.
        self.parts = [
            (self.model.geom_pos[g][:2].copy(), self.model.geom_size[g][:2].copy())
            for g in (self.model.geom("t_bar").id, self.model.geom("t_stem").id)
        ]
        target = self.model.body("target")
        yaw = 2.0 * np.arctan2(target.quat[3], target.quat[0])
        self.target_pose = np.array([target.pos[0], target.pos[1], yaw])
        self._coverage_cache: tuple[bytes, float] = (b"", 0.0)

    def home_pose(self) -> np.ndarray:
        return HOME_POSE.copy()

    def randomize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        while True:  # rejection sampling: deterministic under the seed
            offset = np.array(
                [
                    uniform(rng, cfg.start_dx_range_m),
                    uniform(rng, cfg.start_dy_range_m),
                    uniform(rng, cfg.start_dyaw_range_rad),
                ]
            )
            pose = self.target_pose + offset
            if coverage(pose, self.target_pose, self.parts) <= cfg.max_start_coverage:
                break
        self.data.qpos[self._pose_idx] = pose

    # ---- privileged state ----------------------------------------------------------------------

    @property
    def block_pose(self) -> np.ndarray:
        """The block's (x, y, yaw) on the table (metres, radians)."""
        return self.pose_in(self.data)

    def pose_in(self, data: Any) -> np.ndarray:
        """The block's pose in ``data`` (this task's ``MjData`` or a copy the expert plans on)."""
        return np.array(data.qpos[self._pose_idx])

    @property
    def grasp_position(self) -> np.ndarray:
        return self.data.site_xpos[self.grasp_site].copy()

    def coverage(self) -> float:
        """Coverage of the target by the block now (cached per pose: reward and success ask)."""
        pose = self.block_pose
        key = pose.tobytes()
        if self._coverage_cache[0] != key:
            self._coverage_cache = (key, coverage(pose, self.target_pose, self.parts))
        return self._coverage_cache[1]

    # ---- task outputs --------------------------------------------------------------------------

    def reward_terms(self) -> dict[str, float]:
        to_block = self.grasp_position[:2] - self.block_pose[:2]
        covered = self.coverage()
        return {
            "coverage": covered,
            "reach": 1.0 - float(np.tanh(10.0 * np.linalg.norm(to_block))),
            "success": float(covered >= self.config.success_coverage),
        }

    def is_success(self) -> bool:
        return self.coverage() >= self.config.success_coverage
