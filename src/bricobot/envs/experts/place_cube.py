"""Scripted pick-and-place experts: the PickCube phases, then carry, lower, release, retreat.

:class:`PickAndPlaceExpert` grasps like :class:`~bricobot.envs.experts.pick_cube.PickCubeExpert`,
then carries the cube to above :meth:`place_position` (where the cube's centre should be when it is
let go), lowers it, opens the jaws, and moves up and away. While carrying it corrects for where the
cube actually sits between the jaws (the measured cube-to-grasp-site offset), so the cube, not the
gripper, lands on the spot. A lost cube sends it back to hover; a cube that ends up outside the goal
after the retreat is picked up again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bricobot.envs.experts.pick_cube import PickCubeExpert, PickCubeExpertConfig
from bricobot.envs.tasks.place_cube import PlaceCube


@dataclass
class PlaceCubeExpertConfig(PickCubeExpertConfig):
    lift_height_m: float = 0.05  # straight up after closing, before carrying
    #: Height of the cube's centre above the place position while carrying.
    carry_height_m: float = 0.05
    #: Cube bottom above its support when the jaws open.
    drop_height_m: float = 0.005
    #: Slower target speed for the last few centimetres down.
    lower_speed_m_s: float = 0.1
    release_steps: int = 8
    #: Fastest turn of the wrist while carrying (to the yaw of :meth:`carry_yaw`).
    turn_speed_deg_s: float = 90.0
    retreat_height_m: float = 0.06
    #: Steps to wait after the retreat before judging the placement (and retrying if it failed).
    settle_steps: int = 10


class PickAndPlaceExpert(PickCubeExpert):
    """Pick the task's cube and put it down at :meth:`place_position`; subclasses say where."""

    config_class: type = PlaceCubeExpertConfig
    open_phases = ("hover", "descend", "release", "retreat", "done")
    config: PlaceCubeExpertConfig

    def reset(self) -> None:
        super().reset()
        self.retreat_goal: np.ndarray | None = None
        self.place_yaw = 0.0

    def place_position(self) -> np.ndarray:
        """Where the cube's centre should be when the jaws open (world metres, (3,))."""
        raise NotImplementedError

    def placed(self) -> bool:
        """Whether the put-down cube is where it should be (else the expert tries again)."""
        return bool(self.task.is_success())

    def carry_yaw(self) -> float:
        """A grasp-frame yaw to carry the cube at, up to quarter turns (default: the grasp yaw)."""
        return self.yaw

    def _place_yaw(self) -> float:
        """:meth:`carry_yaw` plus the quarter turns that bring it closest to the azimuth of the
        place position: the cube looks the same, and the wrist turns least."""
        yaw = self.carry_yaw()
        azimuth = self._azimuth(self.place_position()) + self.task.grasp_yaw_offset_rad
        return yaw + np.pi / 2 * round((azimuth - yaw) / (np.pi / 2))

    def goal(self) -> np.ndarray:
        cfg, task = self.config, self.task
        offset = task.cube_position - task.grasp_position  # where the cube sits in the jaws
        if self.phase == "carry":
            return self.place_position() + np.array([0.0, 0.0, cfg.carry_height_m]) - offset
        if self.phase == "lower":
            return self.place_position() - offset
        if self.phase in ("release", "retreat", "done"):
            assert self.retreat_goal is not None and self.arm.target is not None
            return self.arm.target if self.phase == "release" else self.retreat_goal
        goal = super().goal()
        if self.phase in ("hover", "descend"):  # the cube may rest on something after a retry
            goal[2] += max(0.0, float(task.cube_position[2]) - task.rest_height_m)
        return goal

    def act(self) -> np.ndarray:
        if self.phase in ("carry", "lower"):
            step_rad = np.deg2rad(self.config.turn_speed_deg_s) / self.task.config.control_hz
            self.yaw += float(np.clip(self.place_yaw - self.yaw, -step_rad, step_rad))
        return super().act()

    def _advance_phase(self, error_m: float, target_distance_m: float) -> None:
        cfg = self.config
        # The goal follows the measured cube offset, so it never holds perfectly still.
        arrived = target_distance_m < 5e-4
        holding = all(self.task.jaw_contacts())
        if self.phase in ("lift", "carry", "lower") and self.phase_steps > 10 and not holding:
            self.phase_steps = 0
            self._enter("hover")  # dropped or missed: try again
        elif self.phase == "lift":
            self.phase_steps += 1
            if arrived and error_m < 0.01:
                self._enter("carry")
        elif self.phase == "carry":
            self.phase_steps += 1
            if arrived and error_m < 0.01:
                self._enter("lower")
        elif self.phase == "lower":
            self.phase_steps += 1
            if arrived and error_m < 0.004:
                self._enter("release")
        elif self.phase == "release":
            self.phase_steps += 1
            if self.phase_steps >= cfg.release_steps:
                self._enter("retreat")
        elif self.phase in ("retreat", "done"):
            self.phase_steps += 1
            if self.phase == "retreat" and arrived:
                self._enter("done")
            elif (
                self.phase == "done" and self.phase_steps >= cfg.settle_steps and not self.placed()
            ):
                self._enter("hover")
        else:
            super()._advance_phase(error_m, target_distance_m)

    def _enter(self, phase: str) -> None:
        if phase == "carry":
            self.place_yaw = self._place_yaw()
        if phase == "release":
            assert self.arm.target is not None
            self.retreat_goal = self.arm.target + np.array([0.0, 0.0, self.config.retreat_height_m])
        super()._enter(phase)

    def speed_m_s(self) -> float:
        return self.config.lower_speed_m_s if self.phase == "lower" else self.config.speed_m_s


class PlaceCubeExpert(PickAndPlaceExpert):
    """Puts the cube down in the middle of the tray."""

    task: PlaceCube

    def place_position(self) -> np.ndarray:
        task = self.task
        height = task.floor_height_m + task.half_size_m + self.config.drop_height_m
        return task.tray_position + np.array([0.0, 0.0, height])
