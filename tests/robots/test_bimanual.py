"""Two virtual Koch arms as one robot: prefixed keys, one bad value stops both arms."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from bricobot.emulation.mujoco_arm import hardware_path, start_virtual_arm
from bricobot.robots.bimanual import Bimanual, BimanualConfig
from tests.fakes.fake_servo_log import WriteLog, logging_servo_class

pytestmark = pytest.mark.skipif(
    not hardware_path("koch", "motors.yaml").is_file(),
    reason="hardware/koch/motors.yaml not there yet",
)


def test_bimanual_prefixes_keys_and_refuses_a_bad_value_before_either_arm_moves(
    tmp_path: Path,
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((24, 32, 3), 80, np.uint8))
    logs = {"left": WriteLog(), "right": WriteLog()}
    with (
        start_virtual_arm(
            "koch", workdir=tmp_path / "l", servo_class=logging_servo_class(logs["left"])
        ) as left,
        start_virtual_arm(
            "koch", workdir=tmp_path / "r", servo_class=logging_servo_class(logs["right"])
        ) as right,
    ):
        config = BimanualConfig(
            left={
                "type": "koch",
                "port": left.port,
                "calibration_path": str(left.calibration_path),
                "name": "left",
                "torque_on_exit": "hold",
                "reply_timeout_s": 0.2,
                "cameras": {
                    "wrist": {
                        "type": "replay",
                        "path": str(frames),
                        "fps": 50,
                        "max_age_periods": 50,
                    }
                },
            },
            right={
                "type": "koch",
                "port": right.port,
                "calibration_path": str(right.calibration_path),
                "name": "right",
                "torque_on_exit": "hold",
                "reply_timeout_s": 0.2,
            },
        )
        robot = Bimanual(config)
        assert "left_wrist" in robot.observation_features
        with robot:
            observation = robot.get_observation()
            assert observation["left_wrist"].shape == (24, 32, 3)
            assert "left_wrist" in robot.capture_times_s
            action = {k: observation[k] for k in robot.action_features}
            assert set(action) == {
                f"{side}_{k}"
                for side in ("left", "right")
                for k in (
                    "shoulder_pan.pos",
                    "shoulder_lift.pos",
                    "elbow_flex.pos",
                    "wrist_flex.pos",
                    "wrist_roll.pos",
                    "gripper.pos",
                )
            }
            marks = {side: log.mark() for side, log in logs.items()}
            with pytest.raises(ValueError, match="right_elbow_flex"):
                robot.send_action({**action, "right_elbow_flex.pos": math.nan})
            sent = robot.send_action(
                {**action, "left_elbow_flex.pos": action["left_elbow_flex.pos"] + 3}
            )
            robot.get_observation()  # the writes have landed
        assert sent["left_elbow_flex.pos"] == pytest.approx(action["left_elbow_flex.pos"] + 3)
        for side, log in logs.items():
            goal_writes = [e for e in log.events[marks[side] :] if e.register == "Goal_Position"]
            assert len(goal_writes) == 6, (
                side
            )  # one sync write (the good action) per arm, none for the NaN
