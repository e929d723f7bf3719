"""Scripted experts that solve tasks from privileged simulator state.

:class:`PickCubeExpert` hovers above the cube with the jaws pointing down and aligned with a cube
face, descends, closes, and lifts, moving its Cartesian target at a bounded speed and solving joint
targets with :class:`~bricobot.envs.kinematics.SiteIK` seeded from its previous command, so the
demonstrations are smooth and consistent (good training data). It is closed-loop: each phase reads
the cube's current pose, and a failed grasp sends it back to hover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bricobot.envs.kinematics import SiteIK
from bricobot.envs.tasks.pick_cube import PickCube, yaw_matrix_pointing_down

ARM_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]


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


class PickCubeExpert:
    """Computes the next action (robot units, (6,)) for a :class:`PickCube` task."""

    def __init__(self, task: PickCube, config: PickCubeExpertConfig | None = None) -> None:
        self.task = task
        self.config = config or PickCubeExpertConfig()
        self.ik = SiteIK(task.model, "grasp", ARM_JOINTS)
        self.reset()

    def reset(self) -> None:
        self.phase = "hover"
        self.phase_steps = 0
        self.command: np.ndarray | None = None  # last joint command, radians (6,)
        self.target: np.ndarray | None = None  # moving Cartesian target (3,)
        self.yaw = 0.0
        self.lift_goal: np.ndarray | None = None  # fixed when the lift starts

    def _grasp_yaw(self) -> float:
        """Cube yaw plus a multiple of 90° closest to the arm's azimuth (least wrist roll)."""
        cube = self.task.cube_position
        azimuth = float(np.arctan2(cube[1], cube[0] - 0.0388))
        yaw = self.task.cube_yaw
        return yaw + np.pi / 2 * np.round((azimuth - yaw) / (np.pi / 2))

    def act(self) -> np.ndarray:
        task, cfg = self.task, self.config
        if self.command is None:
            self.command = task.from_units(task.joint_positions())
            self.target = task.grasp_position
        cube = task.cube_position
        if self.phase in ("hover", "descend"):
            self.yaw = self._grasp_yaw()
        if self.phase == "lift":
            assert self.lift_goal is not None
            goal = self.lift_goal
        else:
            # The fixed jaw is on the -x side of the grasp frame: keep it clear of the cube.
            closing_axis = np.array([np.cos(self.yaw), np.sin(self.yaw), 0.0])
            goal = cube - cfg.clearance_m * closing_axis
            goal[2] = task.rest_height_m + (cfg.hover_height_m if self.phase == "hover" else 0.0)
        assert self.target is not None
        step_m = cfg.speed_m_s / task.config.control_hz
        delta = goal - self.target
        distance = float(np.linalg.norm(delta))
        self.target = goal.copy() if distance <= step_m else self.target + delta / distance * step_m
        self._advance_phase(float(np.linalg.norm(goal - task.grasp_position)), distance)

        result = self.ik.solve(
            task.data.qpos, self.command[:5], self.target, yaw_matrix_pointing_down(self.yaw)
        )
        gripper_pct = cfg.gripper_open_pct if self.phase in ("hover", "descend") else 0.0
        action = task.to_units(np.append(result.q, 0.0))
        action[-1] = gripper_pct
        self.command = task.from_units(action)
        return action

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
            assert self.target is not None
            self.lift_goal = self.target + np.array([0.0, 0.0, self.config.lift_height_m])
        self.phase = phase
        self.phase_steps = 0


@dataclass
class ExpertRun:
    """Outcome of running the expert: per-episode success and the frames of the first episode."""

    successes: list[bool]
    first_episode_frames: list[np.ndarray]

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / len(self.successes)


def run_expert(
    task: PickCube,
    seeds: list[int],
    video_camera: str | None = None,
    progress: bool = False,
) -> ExpertRun:
    """Run the expert for one episode per seed; success = the predicate held at any step.

    ``video_camera`` names a camera whose frames are kept for the first episode (for an mp4).
    """
    from tqdm import tqdm

    expert = PickCubeExpert(task)
    successes: list[bool] = []
    frames: list[np.ndarray] = []
    for i, seed in enumerate(tqdm(seeds, desc="expert episodes", disable=not progress)):
        task.reset(seed)
        expert.reset()
        success = False
        for _ in range(task.config.episode_length):
            task.step(expert.act())
            success |= task.is_success()
            if i == 0 and video_camera is not None:
                frames.append(task.render(video_camera))
        successes.append(success)
    return ExpertRun(successes, frames)
