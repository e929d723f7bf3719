"""Any sim task's scripted expert as a teleoperator: the expert named by the task's registry entry.

``teleop=sim_expert`` (or a per-task preset such as ``teleop=so101_place_cube_expert``) drives a
:class:`~bricobot.robots.sim.SimRobot` with the scripted expert of whatever task it runs
(``bricobot.envs.registry.EnvEntry.expert``), so recording demonstrations of a task uses the same
loop as a person at a leader arm. ``task`` pins the expected task (a preset for one task refuses a
robot running another); ``settings`` overrides fields of that expert's config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bricobot.envs.experts import Expert, make_expert
from bricobot.envs.task import Task
from bricobot.errors import DeviceNotConnectedError
from bricobot.robots.base import FeatureSpec
from bricobot.teleop.base import Teleoperator


@dataclass
class SimExpertTeleopConfig:
    """Which task's expert to expect, and overrides of its config."""

    type: str = "sim_expert"
    #: ENVS name of the task the robot must run ("" accepts any registered sim task).
    task: str = ""
    #: Fields of the task's expert config to change (e.g. ``{speed_m_s: 0.2}``).
    settings: dict[str, Any] = field(default_factory=dict)


class SimExpertTeleop(Teleoperator):
    """Teleoperator whose actions come from the scripted expert of the attached sim task."""

    #: The runtime hands it the robot it drives (see ``bricobot.runtime.commands.make_teleop``).
    needs_robot = True

    def __init__(self, config: SimExpertTeleopConfig, task: Any = None, robot: Any = None) -> None:
        source = task if task is not None else getattr(robot, "task", None)
        if not isinstance(source, Task):
            raise ValueError(
                "the sim_expert teleoperator reads the state of the simulated task it drives: "
                "pass robot=<SimRobot> (robot=so101_sim on the command line)"
            )
        if config.task and source.config.type != config.task:
            raise ValueError(
                f"teleoperator {config.type!r} expects the robot to run task {config.task!r}, "
                f"but it runs {source.config.type!r}: set robot.task={config.task}"
            )
        self.config = config
        self.task = source
        self.expert: Expert = make_expert(source, config.settings)
        self._connected = False

    @property
    def action_features(self) -> FeatureSpec:
        return {f"{j}.pos": float for j in self.task.joint_names}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        self._connected = True
        self.expert.reset()

    def reset(self) -> None:
        self.expert.reset()

    def get_action(self) -> dict[str, float]:
        if not self._connected:
            raise DeviceNotConnectedError("the scripted expert is not connected: call connect()")
        return dict(zip(self.action_features, self.expert.act().tolist(), strict=True))

    def disconnect(self) -> None:
        self._connected = False
