"""What every scripted expert shares: the interface, the arm motion helper, building and running.

An expert reads privileged simulator state of the task it is attached to and returns the next
action (robot units, shape (n_joints,)). Each task's registry entry names its expert class
(``EnvEntry.expert``), so :func:`make_expert` needs only the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bricobot.envs.kinematics import SiteIK
from bricobot.envs.task import Task
from bricobot.loading import from_dict

#: The arm joints solved by inverse kinematics (the gripper is commanded directly).
ARM_JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]


class Expert(Protocol):
    """A scripted policy with privileged state: ``reset()`` per episode, ``act()`` per step."""

    def reset(self) -> None: ...

    def act(self) -> np.ndarray: ...


class ArmMotion:
    """One arm's Cartesian target for a site, moved at a bounded speed and solved by IK.

    The joint command of the previous step seeds the IK, so consecutive commands are smooth (good
    demonstrations); ``prefix`` selects an arm of a multi-arm task (``"left_"``).
    """

    def __init__(self, task: Task, site: str, prefix: str = "") -> None:
        self.task = task
        joints = [prefix + j for j in ARM_JOINTS]
        self.ik = SiteIK(task.model, site, joints)
        self.site = task.model.site(site).id
        self.arm_idx = np.array([task.joint_names.index(j) for j in joints])
        self.gripper_idx = task.joint_names.index(prefix + "gripper")
        self.reset()

    def reset(self) -> None:
        self.command: np.ndarray | None = None  # last arm joint command, radians (5,)
        self.target: np.ndarray | None = None  # moving Cartesian target of the site (3,)

    @property
    def site_position(self) -> np.ndarray:
        return self.task.data.site_xpos[self.site].copy()

    def start(self) -> None:
        """Begin from the measured pose (first step of an episode)."""
        if self.command is None:
            self.command = self.task.data.qpos[self.ik.qpos_idx].copy()
            self.target = self.site_position

    def advance(self, goal: np.ndarray, speed_m_s: float) -> float:
        """Move the target toward ``goal`` by one control period; returns the distance the target
        was from the goal before moving (0 once it has arrived)."""
        assert self.target is not None, "call start() first"
        step_m = speed_m_s / self.task.config.control_hz
        delta = goal - self.target
        distance = float(np.linalg.norm(delta))
        self.target = goal.copy() if distance <= step_m else self.target + delta / distance * step_m
        return distance

    def solve(self, rotation: np.ndarray | None) -> np.ndarray:
        """Arm joint command (radians, (5,)) for the site at the target with ``rotation`` (3, 3)."""
        assert self.command is not None and self.target is not None, "call start() first"
        result = self.ik.solve(self.task.data.qpos, self.command, self.target, rotation)
        self.command = result.q
        return result.q

    def write(self, action: np.ndarray, q_rad: np.ndarray, gripper_pct: float) -> None:
        """Put this arm's joint command (radians) and gripper (percent) into ``action`` (units)."""
        action[self.arm_idx] = np.rad2deg(q_rad)
        action[self.gripper_idx] = gripper_pct


def make_expert(task: Task, settings: dict[str, Any] | None = None) -> Expert:
    """The scripted expert named by ``task``'s registry entry, with optional config overrides."""
    from bricobot.envs.registry import env_entry
    from bricobot.registry import load_object

    entry = env_entry(task.config.type)
    if not entry.expert:
        raise ValueError(f"env task {task.config.type!r} has no scripted expert")
    expert_cls = load_object(entry.expert)
    config = from_dict(expert_cls.config_class, dict(settings)) if settings else None
    expert: Expert = expert_cls(task, config)
    return expert


@dataclass
class ExpertRun:
    """Outcome of running the expert: per-episode success and the frames of the first episode."""

    successes: list[bool]
    first_episode_frames: list[np.ndarray]

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / len(self.successes)


def run_expert(
    task: Task,
    seeds: list[int],
    video_camera: str | None = None,
    progress: bool = False,
    expert: Expert | None = None,
) -> ExpertRun:
    """Run the task's expert for one episode per seed; success = the predicate held at any step.

    ``video_camera`` names a camera whose frames are kept for the first episode (for an mp4).
    """
    from tqdm import tqdm

    expert = expert or make_expert(task)
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
