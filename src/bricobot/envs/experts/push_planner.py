"""Plans pushes of the PushT block by simulating them on a copy of the scene.

A stroke pushes the closed jaws into the T at one point of its outline along one direction.
:meth:`PushPlanner.best_stroke` tries every candidate with the arm put at the stroke's start (a
teleport: cheap, close to what will happen) and keeps the one whose best stopping step leaves the
T's corners closest to the target's. Once the arm really is at the start,
:meth:`PushPlanner.commands` simulates the chosen stroke from the true state, stopping steps and
the back-off after them included, and returns the exact joint commands to send: MuJoCo is
deterministic, so the T ends where the simulation said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bricobot.envs.experts.base import ArmMotion
from bricobot.envs.tasks.pick_cube import gripper_geoms, yaw_matrix_pointing_down
from bricobot.envs.tasks.push_t import PushT

#: Jaw geometry in the grasp-site frame (closed jaws pointing down): the fixed jaw's outer face
#: is 23 mm behind the site (-x); the side faces are 11 mm either side (±y), centred 9 mm behind.
FRONT_FACE_M = 0.023
SIDE_FACE_M = 0.011
SIDE_CENTRE_M = 0.009


@dataclass
class PushPlanConfig:
    """How pushes are laid out and chosen."""

    travel_height_m: float = 0.055  # grasp-site height between pushes (jaws clear the T)
    push_height_m: float = 0.019  # grasp-site height while pushing (jaw tips ~4 mm up)
    #: Gap between the jaws and the T before a push.
    margin_m: float = 0.008
    #: Push speed and length, scaled with the T's current error between these bounds: long and
    #: fast far from the target, short and slow (fine stopping steps) close to it.
    push_speed_range_m_s: tuple[float, float] = (0.008, 0.06)
    push_length_range_m: tuple[float, float] = (0.02, 0.05)
    #: Backward move after a push (let go of the T before lifting, or lifting drags it).
    back_off_m: float = 0.004
    back_off_steps: int = 3
    #: Control steps of the lift back to travel height after a push.
    lift_steps: int = 6
    #: A push must bring the T's corners this much closer to the target to be worth doing.
    min_gain_m: float = 0.0003


@dataclass
class Stroke:
    """One push: grasp-site start (world, (3,)), direction ((3,), horizontal), jaw yaw, joint
    commands (radians, (5,)) at its start and end, and its length and number of steps."""

    start: np.ndarray
    direction: np.ndarray
    yaw: float
    q_start: np.ndarray
    q_end: np.ndarray
    length_m: float
    steps: int
    score: float = np.inf  # best error (m) over the stopping steps, from the last simulation


def contact_candidates(task: PushT) -> list[tuple[np.ndarray, np.ndarray]]:
    """Points on the T's outline and push directions into it, in the T frame (x along the bar):
    along the inward normal and turned ±25° from it (still inside the friction cone, so the jaws
    do not slide on the face, but the T turns differently)."""
    (bar_c, bar_h), (stem_c, stem_h) = task.parts
    top, under = bar_c[1] + bar_h[1], bar_c[1] - bar_h[1]
    bottom = stem_c[1] - stem_h[1]
    wing, tip = (bar_h[0] + stem_h[0]) / 2, bar_h[0] - 0.006
    down, up, right, left = (0, -1), (0, 1), (1, 0), (-1, 0)
    faces = [
        *(((x, top), down) for x in (-tip, -wing, 0.0, wing, tip)),
        *(((x, under), up) for x in (-tip, -wing, wing, tip)),
        ((-bar_h[0], bar_c[1]), right),
        ((bar_h[0], bar_c[1]), left),
        *(((-stem_h[0], y), right) for y in (under - 0.02, bottom + 0.012)),
        *(((stem_h[0], y), left) for y in (under - 0.02, bottom + 0.012)),
        ((0.0, bottom), up),
    ]
    out = []
    for point, normal in faces:
        for turn in np.deg2rad([-25.0, 0.0, 25.0]):
            out.append((np.array(point, dtype=float), _rotate(np.array(normal, float), turn)))
    return out


def _rotate(vector: np.ndarray, angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([c * vector[0] - s * vector[1], s * vector[0] + c * vector[1]])


def wrap_angle(angle_rad: float) -> float:
    """``angle_rad`` wrapped to [-π, π)."""
    return float((angle_rad + np.pi) % (2 * np.pi) - np.pi)


class PushPlanner:
    """Chooses and simulates strokes for ``arm`` pushing the T of ``task``."""

    def __init__(self, task: PushT, arm: ArmMotion, config: PushPlanConfig) -> None:
        self.task, self.arm, self.config = task, arm, config
        self._mj = task._mj
        self.scratch = self._mj.MjData(task.model)
        self._pan = task.model.joint("shoulder_pan").id
        self._jaws = gripper_geoms(task.model)
        self._block = {task.model.geom(n).id for n in ("t_bar", "t_stem")}
        corners = [np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * h + c for c, h in task.parts]
        self._corners = np.concatenate(corners)  # (8, 2) in the T frame
        self._target_corners = self._corners_at(task.target_pose)
        self._home = np.deg2rad(task.home_pose()[:5])

    # ---- scoring -------------------------------------------------------------------------------

    def _corners_at(self, pose: np.ndarray) -> np.ndarray:
        c, s = np.cos(pose[2]), np.sin(pose[2])
        return self._corners @ np.array([[c, s], [-s, c]]) + pose[:2]

    def error_m(self, pose: np.ndarray) -> float:
        """Mean distance of the T's corners at ``pose`` to the target's (metres)."""
        return float(np.linalg.norm(self._corners_at(pose) - self._target_corners, axis=1).mean())

    def azimuth(self, point: np.ndarray) -> float:
        """Direction (rad) from the shoulder pan axis to ``point`` on the table."""
        pan_xy = self.task.data.xanchor[self._pan][:2]
        return float(np.arctan2(point[1] - pan_xy[1], point[0] - pan_xy[0]))

    # ---- planning ------------------------------------------------------------------------------

    def best_stroke(self) -> Stroke | None:
        """The candidate that brings the T closest to the target, or None if none gains enough."""
        now = self.error_m(self.task.block_pose)
        best: Stroke | None = None
        for point, direction in contact_candidates(self.task):
            stroke = self._make_stroke(point, direction)
            if stroke is None or not self._teleport(stroke):
                continue
            stroke.score = min(self._rollout(stroke, stroke.steps), default=now)
            if best is None or stroke.score < best.score:
                best = stroke
        if best is None or now - best.score < self.config.min_gain_m:
            return None
        return best

    def _make_stroke(self, point: np.ndarray, normal: np.ndarray) -> Stroke | None:
        """Where the jaws start and end for a push at ``point`` along ``normal`` (T frame)."""
        task, cfg = self.task, self.config
        pose = task.block_pose
        contact = _rotate(point, pose[2]) + pose[:2]
        direction = _rotate(normal, pose[2])
        heading = float(np.arctan2(direction[1], direction[0]))
        azimuth = self.azimuth(contact)
        # Lead with the fixed jaw's outer face (site x = -direction) unless the wrist would have
        # to roll past its range; then lead with the side of the jaws.
        yaw = heading + np.pi
        start = contact - (FRONT_FACE_M + cfg.margin_m) * direction
        if abs(wrap_angle(yaw - azimuth)) > np.deg2rad(100):
            side = 1.0 if abs(wrap_angle(heading - np.pi / 2 - azimuth)) < np.pi / 2 else -1.0
            yaw = heading - side * np.pi / 2
            x_axis = np.array([np.cos(yaw), np.sin(yaw)])
            start = contact - (SIDE_FACE_M + cfg.margin_m) * direction + SIDE_CENTRE_M * x_axis
        error_m = self.error_m(pose)
        speed_m_s = float(np.clip(3.0 * error_m, *cfg.push_speed_range_m_s))
        length_m = float(np.clip(cfg.margin_m + 2.0 * error_m, *cfg.push_length_range_m))
        start3 = np.array([*start, cfg.push_height_m])
        end3 = start3 + np.array([*direction, 0.0]) * length_m
        rotation = yaw_matrix_pointing_down(yaw)
        above = self._solve(np.array([*start, cfg.travel_height_m]), rotation)
        first = self._solve(start3, rotation, wrap_angle(yaw - azimuth))
        last = self.arm.ik.solve(task.data.qpos, first.q, end3, rotation, iterations=100)
        if max(above.position_error_m, first.position_error_m, last.position_error_m) > 0.003:
            return None  # out of reach
        steps = max(1, round(length_m / speed_m_s * task.config.control_hz))
        return Stroke(start3, np.array([*direction, 0.0]), yaw, first.q, last.q, length_m, steps)

    def _solve(self, position: np.ndarray, rotation: np.ndarray, roll_rad: float = 0.0) -> Any:
        """IK from the current command, or, if the wrist must turn far (the damped solver then
        stalls), from the home pose with the wrist roll already about right."""
        qpos = self.task.data.qpos
        seed = self.arm.command if self.arm.command is not None else self._home
        result = self.arm.ik.solve(qpos, seed, position, rotation, iterations=100)
        if result.position_error_m > 0.003:
            seed = self._home.copy()
            seed[4] = roll_rad
            result = self.arm.ik.solve(qpos, seed, position, rotation, iterations=300)
        return result

    # ---- simulation ----------------------------------------------------------------------------

    def _teleport(self, stroke: Stroke) -> bool:
        """Copy the scene with the arm at rest at the stroke's start; False if the jaws would
        start inside the T."""
        task, data = self.task, self.scratch
        self._mj.mj_copyData(data, task.model, task.data)
        data.qpos[self.arm.ik.qpos_idx] = stroke.q_start
        data.qvel[:] = 0.0
        task.set_controls(data, self._action(stroke.q_start))
        self._mj.mj_forward(task.model, data)
        first, second = data.contact.geom1[: data.ncon], data.contact.geom2[: data.ncon]
        return not any(
            {int(a), int(b)} & self._jaws and {int(a), int(b)} & self._block
            for a, b in zip(first, second, strict=True)
        )

    def _rollout(self, stroke: Stroke, steps: int) -> list[float]:
        """Push on the scratch copy as it is; the T's error (m) after each of ``steps`` steps."""
        errors = []
        for k in range(1, steps + 1):
            self._step(self.push_command(stroke, k))
            errors.append(self.error_m(self.task.pose_in(self.scratch)))
        return errors

    def _step(self, q_rad: np.ndarray) -> None:
        task = self.task
        task.set_controls(self.scratch, self._action(q_rad))
        self._mj.mj_step(task.model, self.scratch, nstep=task.substeps)

    def _action(self, q_rad: np.ndarray) -> np.ndarray:
        action = np.zeros(len(self.task.joint_names))
        self.arm.write(action, q_rad, 0.0)  # jaws closed
        return action

    def push_command(self, stroke: Stroke, k: int) -> np.ndarray:
        """Arm command (radians, (5,)) at step ``k`` of the push (linear in joint space)."""
        return stroke.q_start + (stroke.q_end - stroke.q_start) * k / stroke.steps

    def commands(self, stroke: Stroke, q_now: np.ndarray, tries: int = 5) -> list[np.ndarray]:
        """The stroke's exact commands from the true state (push, back off, lift), stopping at
        whichever of the ``tries`` most promising steps ends best; [] if no stop helps."""
        task, mj = self.task, self._mj
        stroke.q_start = q_now.copy()
        mj.mj_copyData(self.scratch, task.model, task.data)
        errors = self._rollout(stroke, stroke.steps)
        best: tuple[float, list[np.ndarray]] = (self.error_m(task.block_pose), [])
        for k in np.argsort(errors)[:tries] + 1:
            sequence = self._sequence(stroke, int(k))
            mj.mj_copyData(self.scratch, task.model, task.data)
            for q in sequence:
                self._step(q)
            final = self.error_m(task.pose_in(self.scratch))
            if final < best[0]:
                best = (final, sequence)
        stroke.score = best[0]
        return best[1]

    def _sequence(self, stroke: Stroke, k: int) -> list[np.ndarray]:
        """Commands of a push stopped after step ``k``: the push, a hold backed off from the T,
        then a lift to travel height (all simulated: a lift can drag the T too)."""
        cfg = self.config
        pushes = [self.push_command(stroke, j) for j in range(1, k + 1)]
        back = pushes[-1] - (stroke.q_end - stroke.q_start) * (cfg.back_off_m / stroke.length_m)
        moved_m = stroke.length_m * k / stroke.steps - cfg.back_off_m
        above = stroke.start + stroke.direction * moved_m
        above[2] = cfg.travel_height_m
        lift = self.arm.ik.solve(
            self.task.data.qpos, back, above, yaw_matrix_pointing_down(stroke.yaw)
        ).q
        lifting = [back + (lift - back) * j / cfg.lift_steps for j in range(1, cfg.lift_steps + 1)]
        return pushes + [back] * cfg.back_off_steps + lifting
