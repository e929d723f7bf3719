"""KochPickCube: the Koch v1.1 twin lifts a 2.5 cm cube (PickCube on the other arm).

Same success predicate, reward terms and expert as :mod:`bricobot.envs.tasks.pick_cube`; the Koch
reaches along +y, so the cube is placed in front of it there. Its MJCF (``hardware/koch/koch.xml``)
has no grasp site, so the task adds one to the gripper when it loads the scene, with the SO-101's
convention: origin where a held cube's centre sits, z up out of the jaws when they point down, x
along the closing direction (the static finger on the -x side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bricobot.envs.task import hardware_path
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig

#: Grasp site in the Koch gripper frame (fingers along -x, static finger on +y): between the
#: finger pads, one half cube inside the static pads' face.
GRASP_POS_M = (-0.062, -0.004, 0.0005)
#: Its rotation in the gripper frame (row-major; columns x = -y_g, y = -z_g, z = +x_g).
GRASP_ROTATION = ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))

#: Joint targets at the start of every episode: jaws pointing down (tilted 17° toward the arm)
#: 9 cm above the middle of the workspace, 40 % open (degrees; gripper in percent).
HOME_POSE = np.array([1.4, -10.7, -27.9, -89.9, 1.4, 40.0])


@dataclass
class KochPickCubeConfig(PickCubeConfig):
    """KochPickCube settings; the cube is placed uniformly in the given ranges (metres, radians)."""

    type: str = "koch_pick_cube"
    cube_x_range_m: list[float] = field(default_factory=lambda: [-0.06, 0.06])
    cube_y_range_m: list[float] = field(default_factory=lambda: [0.10, 0.16])


class KochPickCube(PickCube):
    """Lift a cube placed at a seeded random position and yaw in front of the Koch arm."""

    robot = "koch"
    scene_file = "scene_pick_cube.xml"
    fixed_jaw_names = ("static_finger", "static_pad_1", "static_pad_2")
    moving_jaw_names = ("moving_finger", "moving_pad_1", "moving_pad_2")
    #: The arm reaches along +y: at zero wrist roll the closing axis is across that direction.
    grasp_yaw_offset_rad = np.pi / 2
    #: The wrist cannot point the jaws straight down (wrist_flex stops at -115°): tilt them 17°.
    grasp_tilt_rad = -0.3

    config: KochPickCubeConfig

    def load_model(self) -> Any:
        mujoco = self._mj
        spec = mujoco.MjSpec.from_file(str(hardware_path(self.robot, self.scene_file)))
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, np.array(GRASP_ROTATION).reshape(9))
        spec.body("gripper").add_site(
            name="grasp", pos=list(GRASP_POS_M), quat=quat.tolist(), size=[0.004, 0, 0], group=3
        )
        return spec.compile()

    def home_pose(self) -> np.ndarray:
        return HOME_POSE.copy()
