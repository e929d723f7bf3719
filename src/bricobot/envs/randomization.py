"""Domain randomization of a task's scene: lighting, colours, camera pose, object size, friction.

Off by default (``TaskConfig.randomize = False``), so a plain task is deterministic under a seed. With
it on, every reset first puts the model back to its nominal values, then draws new ones from a
generator of their own (seeded from the episode seed, separate from the one that places objects, so
a seed places the objects the same way in the plain and the randomized variant). The values drawn
are returned, so they can be reported and saved with a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RandomizationConfig:
    """Ranges of the randomized scene properties (used only when the task's ``randomize`` is on)."""

    #: Factor on every light's diffuse colour and on the headlight.
    light_scale_range: list[float] = field(default_factory=lambda: [0.6, 1.3])
    #: Uniform offset added to each RGB channel of the table (0..1 scale).
    table_rgb_jitter: float = 0.08
    #: Uniform offset added to each RGB channel of every task object.
    object_rgb_jitter: float = 0.15
    #: Camera position offset per axis, metres ("a few mm").
    camera_pos_jitter_m: float = 0.005
    #: Camera rotation about a random axis, degrees ("a few degrees").
    camera_rot_jitter_deg: float = 2.0
    #: Factor on the size of the task's sized objects (cubes), same for all three axes.
    object_size_scale_range: list[float] = field(default_factory=lambda: [0.9, 1.1])
    #: Factor on the sliding friction of the task's objects.
    friction_scale_range: list[float] = field(default_factory=lambda: [0.7, 1.3])

    def __post_init__(self) -> None:
        for name in ("light_scale_range", "object_size_scale_range", "friction_scale_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high, got {[lo, hi]}")
        for name in (
            "table_rgb_jitter",
            "object_rgb_jitter",
            "camera_pos_jitter_m",
            "camera_rot_jitter_deg",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def _draw(rng: np.random.Generator, bounds: list[float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _quat_from_axis_angle(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle_rad / 2)], np.sin(angle_rad / 2) * axis])


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )


class SceneRandomizer:
    """Applies :class:`RandomizationConfig` to one ``MjModel``; remembers the nominal values.

    ``table_geoms``, ``object_geoms`` (recoloured, friction scaled) and ``sized_geoms`` (box or
    sphere geoms whose size is scaled) are geom names of the scene.
    """

    def __init__(
        self,
        model: Any,
        table_geoms: list[str],
        object_geoms: list[str],
        sized_geoms: list[str],
    ) -> None:
        self.model = model
        self.table = [model.geom(n).id for n in table_geoms]
        self.objects = [model.geom(n).id for n in object_geoms]
        self.sized = [model.geom(n).id for n in sized_geoms]
        names = ("light_diffuse", "geom_rgba", "mat_rgba", "cam_pos", "cam_quat", "geom_size")
        self._nominal = {name: getattr(model, name).copy() for name in names}
        self._nominal["geom_friction"] = model.geom_friction.copy()
        self._nominal["geom_rbound"] = model.geom_rbound.copy()
        self._nominal["geom_aabb"] = model.geom_aabb.copy()
        self._headlight = (
            model.vis.headlight.diffuse.copy(),
            model.vis.headlight.ambient.copy(),
        )

    def restore(self) -> None:
        """Put every randomized property back to its value in the MJCF."""
        for name, value in self._nominal.items():
            getattr(self.model, name)[:] = value
        self.model.vis.headlight.diffuse[:] = self._headlight[0]
        self.model.vis.headlight.ambient[:] = self._headlight[1]

    def apply(self, rng: np.random.Generator, config: RandomizationConfig) -> dict[str, Any]:
        """Restore, then draw and apply new values; returns what was drawn (JSON-able)."""
        self.restore()
        return {
            "light_scale": self._lights(rng, config),
            "table_rgb_offset": self._recolour(rng, self.table, config.table_rgb_jitter),
            "object_rgb_offset": self._recolour(rng, self.objects, config.object_rgb_jitter),
            "camera_offsets": self._cameras(rng, config),
            "object_size_scale": self._sizes(rng, config),
            "friction_scale": self._friction(rng, config),
        }

    def _lights(self, rng: np.random.Generator, config: RandomizationConfig) -> float:
        scale = _draw(rng, config.light_scale_range)
        self.model.light_diffuse[:] = np.clip(self._nominal["light_diffuse"] * scale, 0, 1)
        self.model.vis.headlight.diffuse[:] = np.clip(self._headlight[0] * scale, 0, 1)
        return scale

    def _recolour(self, rng: np.random.Generator, geoms: list[int], jitter: float) -> list[float]:
        offset = rng.uniform(-jitter, jitter, size=3)
        for geom in geoms:
            mat = int(self.model.geom_matid[geom])
            # A textured geom takes its colour from its material, which tints the texture.
            target = self.model.mat_rgba[mat] if mat >= 0 else self.model.geom_rgba[geom]
            target[:3] = np.clip(target[:3] + offset, 0, 1)
        return [round(float(v), 4) for v in offset]

    def _cameras(self, rng: np.random.Generator, config: RandomizationConfig) -> list[list[float]]:
        offsets = []
        for cam in range(self.model.ncam):
            shift_m = rng.uniform(-config.camera_pos_jitter_m, config.camera_pos_jitter_m, 3)
            angle_rad = np.deg2rad(rng.uniform(-1, 1) * config.camera_rot_jitter_deg)
            axis = rng.normal(size=3)
            self.model.cam_pos[cam] += shift_m
            quat = _quat_mul(self.model.cam_quat[cam], _quat_from_axis_angle(axis, angle_rad))
            self.model.cam_quat[cam] = quat / np.linalg.norm(quat)
            offsets.append([*np.round(shift_m, 5).tolist(), round(float(np.rad2deg(angle_rad)), 3)])
        return offsets

    def _sizes(self, rng: np.random.Generator, config: RandomizationConfig) -> float:
        scale = float(
            rng.uniform(config.object_size_scale_range[0], config.object_size_scale_range[1])
        )
        for geom in self.sized:
            self.model.geom_size[geom] *= scale
            # The collision broad phase uses the bounding sphere and box: keep them in step.
            self.model.geom_rbound[geom] *= scale
            self.model.geom_aabb[geom] *= scale
        return scale

    def _friction(self, rng: np.random.Generator, config: RandomizationConfig) -> float:
        scale = _draw(rng, config.friction_scale_range)
        for geom in self.objects:
            self.model.geom_friction[geom, 0] *= scale
        return scale
