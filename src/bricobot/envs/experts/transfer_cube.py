"""Scripted TransferCube expert: the right arm picks the block and holds it up between the arms,
the left arm grips its other end, the right lets go and backs off, the left lifts.

Both arms grasp from above with the jaws closing across the block, each near one end. Every phase
reads the block's current pose; the right arm brings the block's centre (not its own grasp point)
to the handover point, correcting for where the block sits in its jaws. A block lost before the
handover sends the right arm back to pick it up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bricobot.envs.experts.base import ArmMotion
from bricobot.envs.tasks.pick_cube import yaw_matrix_pointing_down
from bricobot.envs.tasks.transfer_cube import TransferCube

RIGHT, LEFT = "right_", "left_"


@dataclass
class TransferCubeExpertConfig:
    hover_height_m: float = 0.04  # above the grasp point, before descending
    #: Where the block's centre is held up for the handover (world metres).
    handover_m: list[float] = field(default_factory=lambda: [0.21, 0.0, 0.06])
    lift_height_m: float = 0.06  # left arm's final lift
    speed_m_s: float = 0.25
    gripper_open_pct: float = 40.0
    close_steps: int = 8
    release_steps: int = 8
    #: Steps the right arm moves up and away before the left one lifts.
    retreat_steps: int = 10
    clearance_m: float = 0.004  # grasp point offset toward the moving jaw (see PickCubeExpert)


class TransferCubeExpert:
    """Computes the next action (robot units, (12,)) for a :class:`TransferCube` task."""

    config_class: type = TransferCubeExpertConfig

    def __init__(self, task: TransferCube, config: TransferCubeExpertConfig | None = None) -> None:
        self.task = task
        self.config = config or self.config_class()
        self.arms = {p: ArmMotion(task, p + "grasp", p) for p in (LEFT, RIGHT)}
        self._pan = {p: task.model.joint(p + "shoulder_pan").id for p in (LEFT, RIGHT)}
        self.reset()

    def reset(self) -> None:
        self.phase = "right_hover"
        self.phase_steps = 0
        for arm in self.arms.values():
            arm.reset()
        self.yaw = {LEFT: np.pi, RIGHT: 0.0}
        self.hold: dict[str, np.ndarray] = {}  # fixed goals of finished arm motions

    # ---- geometry ------------------------------------------------------------------------------

    def _yaw(self, prefix: str, point: np.ndarray) -> float:
        """Closing axis across the block, the way round that needs the least wrist roll."""
        axis = self.task.block_axis
        across = float(np.arctan2(axis[1], axis[0])) + np.pi / 2
        pan = self.task.data.xanchor[self._pan[prefix]][:2]
        azimuth = float(np.arctan2(point[1] - pan[1], point[0] - pan[0]))
        return across + np.pi * np.round((azimuth - across) / np.pi)

    def _grasp_goal(self, prefix: str, height_m: float = 0.0) -> np.ndarray:
        """Grasp-site goal at arm ``prefix``'s end of the block, ``height_m`` above it."""
        point = self.task.end_position(prefix)
        self.yaw[prefix] = self._yaw(prefix, point)
        closing = np.array([np.cos(self.yaw[prefix]), np.sin(self.yaw[prefix]), 0.0])
        return point - self.config.clearance_m * closing + np.array([0.0, 0.0, height_m])

    def _goals(self) -> dict[str, np.ndarray]:
        """Each arm's grasp-site goal in the current phase."""
        task, cfg, phase = self.task, self.config, self.phase
        right = self.hold.get(RIGHT)
        if phase in ("right_hover", "right_descend"):
            height = cfg.hover_height_m if phase == "right_hover" else 0.0
            right = self._grasp_goal(RIGHT, height)
        elif phase in ("right_close", "carry", "left_descend", "left_close"):
            offset = task.block_position - task.grasp_position(RIGHT)
            right = np.array(cfg.handover_m) - offset if phase != "right_close" else right
        left = self.hold.get(LEFT)
        if phase in ("carry", "left_descend"):
            height = cfg.hover_height_m if phase == "carry" else 0.0
            left = self._grasp_goal(LEFT, height)
        assert right is not None and left is not None
        return {RIGHT: right, LEFT: left}

    # ---- acting --------------------------------------------------------------------------------

    def act(self) -> np.ndarray:
        task = self.task
        for prefix, arm in self.arms.items():
            arm.start()
            self.hold.setdefault(prefix, arm.site_position)
        goals = self._goals()
        arrived = {}
        for prefix, arm in self.arms.items():
            distance = arm.advance(goals[prefix], self.config.speed_m_s)
            error = float(np.linalg.norm(goals[prefix] - arm.site_position))
            arrived[prefix] = distance < 5e-4 and error < 0.006
        self._advance_phase(arrived)
        action = np.zeros(len(task.joint_names))
        for prefix, arm in self.arms.items():
            q = arm.solve(yaw_matrix_pointing_down(self.yaw[prefix]))
            arm.write(action, q, self._gripper_pct(prefix))
        return action

    def _gripper_pct(self, prefix: str) -> float:
        open_pct = self.config.gripper_open_pct
        if prefix == RIGHT:
            closed = self.phase in ("right_close", "carry", "left_descend", "left_close")
            return 0.0 if closed else open_pct
        return 0.0 if self.phase in ("left_close", "release", "right_retreat", "lift") else open_pct

    def _advance_phase(self, arrived: dict[str, bool]) -> None:
        cfg, task = self.config, self.task
        self.phase_steps += 1
        phase, steps = self.phase, self.phase_steps
        holding = all(task.jaw_contacts(RIGHT))
        if phase in ("carry", "left_descend") and steps > 10 and not holding:
            self._enter("right_hover")  # dropped it: pick it up again
        elif phase == "right_hover" and arrived[RIGHT]:
            self._enter("right_descend")
        elif phase == "right_descend" and arrived[RIGHT]:
            self._enter("right_close")
        elif phase == "right_close" and steps >= cfg.close_steps:
            self._enter("carry")
        elif phase == "carry" and arrived[RIGHT] and arrived[LEFT]:
            self._enter("left_descend")
        elif phase == "left_descend" and arrived[LEFT]:
            self._enter("left_close")
        elif phase == "left_close" and steps >= cfg.close_steps:
            self._enter("release")
        elif phase == "release" and steps >= cfg.release_steps:
            self._enter("right_retreat")
        elif phase == "right_retreat" and (arrived[RIGHT] or steps >= cfg.retreat_steps):
            self._enter("lift")

    def _enter(self, phase: str) -> None:
        for prefix, arm in self.arms.items():
            assert arm.target is not None
            self.hold[prefix] = arm.target.copy()
        if phase == "right_retreat":
            self.hold[RIGHT] = self.hold[RIGHT] + np.array([-0.03, 0.0, 0.05])  # up, back home
        if phase == "lift":
            # Up, and toward the left arm: away from the right gripper above the block's end.
            self.hold[LEFT] = self.hold[LEFT] + np.array([0.04, 0.0, self.config.lift_height_m])
        self.phase = phase
        self.phase_steps = 0
