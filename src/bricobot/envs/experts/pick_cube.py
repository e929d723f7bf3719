"""Scripted PickCube expert (SO-101 and Koch): hover, descend, close, lift.

:class:`PickCubeExpert` hovers above the cube with the jaws pointing down and aligned with a cube
face, descends, closes, and lifts, moving its Cartesian target at a bounded speed and solving joint
targets with :class:`~bricobot.envs.kinematics.SiteIK` seeded from its previous command, so the
demonstrations are smooth and consistent (good training data). It is closed-loop: each phase reads
the cube's current pose, and a failed grasp sends it back to hover. The place and stack experts
extend its phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bricobot.envs.experts.base import ArmMotion
from bricobot.envs.tasks.pick_cube import PickCube, yaw_matrix_pointing_down


@dataclass
class PickCubeExpertConfig:
    hover_height_m: float = 0.05  # above the cube centre, before descending
    lift_height_m: float = 0.075  # cube centre above its rest height at the end
    speed_m_s: float = 0.25  # Cartesian target speed
    gripper_open_pct: float = 40.0
    gripper_closed_pct: float = 0.0
    close_steps: int = 8  # control steps with the jaws closing before lifting
    #: Offset of the grasp target from the cube centre along the closing axis, so the fixed jaw
    #: clears the cube on the way down and the closing jaw presses it against the fixed one.
    clearance_m: float = 0.004
    #: Height of the grasp point above the cube's centre when closing (higher leaves the bottom of
    #: the cube below the jaw tips, to set it down on something narrow).
    grasp_height_m: float = 0.0


def rotation_about_x(angle_rad: float) -> np.ndarray:
    """Rotation matrix (3, 3) about the x axis."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


class PickCubeExpert:
    """Computes the next action (robot units, (n_joints,)) for a :class:`PickCube` task."""

    config_class: type = PickCubeExpertConfig
    #: Phases with the jaws open (approaching the cube).
    open_phases: tuple[str, ...] = ("hover", "descend")

    def __init__(self, task: PickCube, config: PickCubeExpertConfig | None = None) -> None:
        self.task = task
        self.config = config or self.config_class()
        self.arm = ArmMotion(task, task.grasp_site_name)
        self._pan_joint = task.model.joint("shoulder_pan").id
        self.reset()

    def reset(self) -> None:
        self.phase = "hover"
        self.phase_steps = 0
        self.arm.reset()
        self.yaw = 0.0
        self.lift_goal: np.ndarray | None = None  # fixed when the lift starts

    def _grasp_yaw(self) -> float:
        """Cube yaw plus a multiple of 90° closest to the arm's azimuth (least wrist roll)."""
        azimuth = self._azimuth(self.task.cube_position) + self.task.grasp_yaw_offset_rad
        yaw = self.task.cube_yaw
        return yaw + np.pi / 2 * np.round((azimuth - yaw) / (np.pi / 2))

    def _azimuth(self, point: np.ndarray) -> float:
        """Direction (rad) from the shoulder pan axis to ``point`` on the table."""
        pan_xy = self.task.data.xanchor[self._pan_joint][:2]
        return float(np.arctan2(point[1] - pan_xy[1], point[0] - pan_xy[0]))

    def _rotation(self, yaw_rad: float) -> np.ndarray:
        """Grasp-frame rotation (3, 3): jaws down, closing along ``yaw_rad``. An arm whose wrist
        cannot point straight down (the Koch) tilts the jaws toward itself by the task's
        ``grasp_tilt_rad``, in the arm's vertical plane (all a 5-joint arm can do)."""
        tilt = self.task.grasp_tilt_rad
        if tilt == 0.0:
            return yaw_matrix_pointing_down(yaw_rad)
        assert self.arm.target is not None
        base = self._azimuth(self.arm.target) + self.task.grasp_yaw_offset_rad
        return (
            yaw_matrix_pointing_down(base)
            @ rotation_about_x(tilt)
            @ yaw_matrix_pointing_down(yaw_rad - base)
        )

    def act(self) -> np.ndarray:
        task = self.task
        self.arm.start()
        if self.phase in ("hover", "descend"):
            self.yaw = self._grasp_yaw()
        goal = self.goal()
        distance = self.arm.advance(goal, self.speed_m_s())
        self._advance_phase(float(np.linalg.norm(goal - task.grasp_position)), distance)
        q = self.arm.solve(self._rotation(self.yaw))
        action = np.zeros(len(task.joint_names))
        self.arm.write(action, q, self.gripper_pct())
        return action

    def speed_m_s(self) -> float:
        """Speed of the Cartesian target in the current phase."""
        return self.config.speed_m_s

    def gripper_pct(self) -> float:
        cfg = self.config
        return cfg.gripper_open_pct if self.phase in self.open_phases else cfg.gripper_closed_pct

    def goal(self) -> np.ndarray:
        """Where the grasp site should go in the current phase (world metres, (3,))."""
        cfg, task = self.config, self.task
        if self.phase == "lift":
            assert self.lift_goal is not None
            return self.lift_goal
        # The fixed jaw is on the -x side of the grasp frame: keep it clear of the cube.
        closing_axis = np.array([np.cos(self.yaw), np.sin(self.yaw), 0.0])
        goal = task.cube_position - cfg.clearance_m * closing_axis
        above = cfg.hover_height_m if self.phase == "hover" else cfg.grasp_height_m
        goal[2] = task.rest_height_m + above
        return goal

    def _advance_phase(self, error_m: float, target_distance_m: float) -> None:
        cfg, task = self.config, self.task
        self.phase_steps += 1
        if self.phase == "hover" and target_distance_m < 1e-6 and error_m < 0.01:
            self._enter("descend")
        elif self.phase == "descend" and target_distance_m < 1e-6 and error_m < 0.006:
            self._enter("close")
        elif self.phase == "close" and self.phase_steps >= cfg.close_steps:
            self._enter("lift")
        elif self.phase == "lift" and self.phase_steps > 10 and not all(task.jaw_contacts()):
            self._enter("hover")  # dropped or missed: try again

    def _enter(self, phase: str) -> None:
        if phase == "lift":
            assert self.arm.target is not None
            self.lift_goal = self.arm.target + np.array([0.0, 0.0, self.config.lift_height_m])
        self.phase = phase
        self.phase_steps = 0
