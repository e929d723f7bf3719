"""Scripted sim experts as teleoperators, so recording demonstrations uses the same loop as a human.

The expert reads privileged simulator state of the task it is attached to (a
:class:`~bricobot.robots.sim.SimRobot` or a task) and returns ``"<joint>.pos"`` targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bricobot.envs.experts import PickCubeExpert, PickCubeExpertConfig
from bricobot.envs.tasks.pick_cube import PickCube
from bricobot.errors import DeviceNotConnectedError
from bricobot.robots.base import FeatureSpec
from bricobot.teleop.base import Teleoperator


@dataclass
class ScriptedExpertConfig(PickCubeExpertConfig):
    """The PickCube expert's motion settings."""

    type: str = "pick_cube_expert"


class ScriptedExpertTeleop(Teleoperator):
    """Teleoperator whose actions come from :class:`PickCubeExpert` on the attached task."""

    #: The runtime hands it the robot it drives (see ``bricobot.runtime.commands.make_teleop``).
    needs_robot = True

    def __init__(self, config: ScriptedExpertConfig, task: Any = None, robot: Any = None) -> None:
        source = task if task is not None else getattr(robot, "task", None)
        if not isinstance(source, PickCube):
            raise ValueError(
                "the pick_cube_expert teleoperator needs the PickCube task it observes: "
                "pass robot=<SimRobot running so101_pick_cube> (robot=so101_sim on the command line)"
            )
        self.config = config
        self.task = source
        fields = {k: v for k, v in vars(config).items() if k != "type"}
        self.expert = PickCubeExpert(source, PickCubeExpertConfig(**fields))
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
