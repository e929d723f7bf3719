"""Scripted PushT expert: plans each push by simulating it, then executes exactly what it simulated.

Pushing a T to within a couple of millimetres (95 % coverage) is hard to script by rules, so the
expert uses the simulator it has privileged access to (:mod:`~bricobot.envs.experts.push_planner`).
Each stroke: plan (simulate every candidate push, keep the best), travel above its start with the
jaws closed, lower them next to the T, re-simulate the push from the true state and send exactly
those commands (push, back off), lift, and plan again, until the coverage goal is reached. Each
step of travel moves a Cartesian target at a bounded speed, solved by IK seeded from the previous
command, so the motion is smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bricobot.envs.experts.base import ArmMotion
from bricobot.envs.experts.push_planner import PushPlanConfig, PushPlanner, Stroke, wrap_angle
from bricobot.envs.tasks.pick_cube import yaw_matrix_pointing_down
from bricobot.envs.tasks.push_t import PushT


@dataclass
class PushTExpertConfig(PushPlanConfig):
    speed_m_s: float = 0.35  # travel speed
    lower_speed_m_s: float = 0.25
    #: Fastest turn of the wrist roll between strokes.
    turn_speed_deg_s: float = 180.0
    settle_steps: int = 1
    #: Stop pushing at this coverage (a little above the success threshold).
    goal_coverage: float = 0.965
    #: Give up on a stroke whose start is not reached in this many seconds, and plan again.
    travel_timeout_s: float = 2.0


class PushTExpert:
    """Computes the next action (robot units, (6,)) for a :class:`PushT` task."""

    config_class: type = PushTExpertConfig

    def __init__(self, task: PushT, config: PushTExpertConfig | None = None) -> None:
        self.task = task
        self.config = config or self.config_class()
        self.arm = ArmMotion(task, "grasp")
        self.planner = PushPlanner(task, self.arm, self.config)
        self.reset()

    def reset(self) -> None:
        self.phase = "plan"
        self.phase_steps = 0
        self.arm.reset()
        #: Grasp-frame yaw relative to the direction of the arm (about the wrist roll), radians.
        self.roll = 0.0
        self.stroke: Stroke | None = None
        self.pushes: list[np.ndarray] = []  # exact joint commands of the push being executed

    def act(self) -> np.ndarray:
        self.arm.start()
        if self.phase == "plan":
            self._plan()
        if self.phase == "refine":
            assert self.stroke is not None and self.arm.command is not None
            self.pushes = self.planner.commands(self.stroke, self.arm.command)
            self._enter("push" if self.pushes else "retract")  # (the push ends lifted)
        if self.phase == "push":
            return self._push()
        goal = self._goal()
        distance = self.arm.advance(goal, self._speed())
        error = float(np.linalg.norm(goal - self.arm.site_position))
        self._advance_phase(distance, error)
        assert self.arm.target is not None
        yaw = self.planner.azimuth(self.arm.target) + self.roll
        return self._action(self.arm.solve(yaw_matrix_pointing_down(yaw)))

    def _push(self) -> np.ndarray:
        q = self.pushes.pop(0)
        self.arm.command = q
        if not self.pushes:
            self.arm.target = self.arm.site_position
            self._enter("plan")
        return self._action(q)

    def _action(self, q_rad: np.ndarray) -> np.ndarray:
        action = np.zeros(len(self.task.joint_names))
        self.arm.write(action, q_rad, 0.0)  # jaws closed
        return action

    def _plan(self) -> None:
        if self.task.coverage() >= self.config.goal_coverage:
            self._enter("done")
            return
        self.stroke = self.planner.best_stroke()
        self._enter("done" if self.stroke is None else "travel")

    def _speed(self) -> float:
        cfg = self.config
        return cfg.lower_speed_m_s if self.phase == "lower" else cfg.speed_m_s

    def _goal(self) -> np.ndarray:
        cfg = self.config
        assert self.arm.target is not None
        if self.phase in ("retract", "done"):
            return np.array([*self.arm.target[:2], cfg.travel_height_m])
        assert self.stroke is not None
        if self.phase == "travel":
            return np.array([*self.stroke.start[:2], cfg.travel_height_m])
        return self.stroke.start.copy()  # lower, settle

    def _advance_phase(self, target_distance_m: float, error_m: float) -> None:
        cfg = self.config
        arrived = target_distance_m < 1e-6
        self.phase_steps += 1
        if self.phase in ("travel", "lower"):
            if self.phase_steps > cfg.travel_timeout_s * self.task.config.control_hz:
                self._enter("retract")  # cannot get there: plan again from above
            elif self.phase == "travel":
                self._turn_wrist(arrived and error_m < 0.01)
            elif arrived and error_m < 0.004:
                self._enter("settle")
        elif self.phase == "settle" and self.phase_steps >= cfg.settle_steps:
            self._enter("refine")
        elif self.phase == "retract" and arrived:
            self._enter("plan")

    def _turn_wrist(self, arrived: bool) -> None:
        """Turn the wrist roll (not the yaw) toward the stroke's: never across the roll's end
        stops, as the shortest turn of the yaw might."""
        assert self.stroke is not None
        roll = wrap_angle(self.stroke.yaw - self.planner.azimuth(self.stroke.start))
        step_rad = np.deg2rad(self.config.turn_speed_deg_s) / self.task.config.control_hz
        self.roll += float(np.clip(roll - self.roll, -step_rad, step_rad))
        if arrived and abs(roll - self.roll) < 1e-9:
            self._enter("lower")

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.phase_steps = 0
