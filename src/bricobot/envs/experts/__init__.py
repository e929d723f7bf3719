"""Scripted experts that solve each task from privileged simulator state.

Each task's registry entry names its expert (``bricobot.envs.registry.EnvEntry.expert``);
:func:`make_expert` builds it for a task and :func:`run_expert` runs it over seeded episodes. An
expert is also a teleoperator (``teleop=sim_expert``), so recording demonstrations uses the same
loop as a person at a leader arm.
"""

from bricobot.envs.experts.base import (
    ARM_JOINTS,
    ArmMotion,
    Expert,
    ExpertRun,
    make_expert,
    run_expert,
)
from bricobot.envs.experts.pick_cube import PickCubeExpert, PickCubeExpertConfig

__all__ = [
    "ARM_JOINTS",
    "ArmMotion",
    "Expert",
    "ExpertRun",
    "PickCubeExpert",
    "PickCubeExpertConfig",
    "make_expert",
    "run_expert",
]
