"""Scripted StackCube expert: pick the red cube, turn it square with the green one, set it on top.

The pick-and-place phases of :class:`~bricobot.envs.experts.place_cube.PickAndPlaceExpert`, with
the place position on the green cube's top face and the carry yaw chosen so the red cube's faces
line up with the green cube's (a neat stack that cannot tip over an edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bricobot.envs.experts.place_cube import PickAndPlaceExpert, PlaceCubeExpertConfig
from bricobot.envs.tasks.stack_cube import StackCube


def wrap_quarter_turn(angle_rad: float) -> float:
    """``angle_rad`` modulo 90°, in [-45°, 45°) (a cube looks the same every quarter turn)."""
    return float((angle_rad + np.pi / 4) % (np.pi / 2) - np.pi / 4)


@dataclass
class StackCubeExpertConfig(PlaceCubeExpertConfig):
    #: Grasp the upper part of the cube so the jaw tips stay clear of the green cube's top.
    grasp_height_m: float = 0.006
    #: Carry low: the arm reaches less far with the jaws pointing down higher up.
    carry_height_m: float = 0.035


class StackCubeExpert(PickAndPlaceExpert):
    """Stacks the red cube on the green cube."""

    config_class: type = StackCubeExpertConfig
    task: StackCube

    def place_position(self) -> np.ndarray:
        task = self.task
        height = 2 * task.half_size_m + self.config.drop_height_m
        return task.base_position + np.array([0.0, 0.0, height])

    def carry_yaw(self) -> float:
        """Turn the held cube square with the green one."""
        task = self.task
        return self.yaw + wrap_quarter_turn(task.base_yaw - task.cube_yaw)
