"""Leader arms read through their calibration, against virtual leaders moved along a trajectory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bricobot.emulation.mujoco_arm import hardware_path, recorded_trajectory, start_virtual_arm
from bricobot.teleop.leader_arm import KochLeader, KochLeaderConfig, SO101Leader, SO101LeaderConfig

POSE = {
    "shoulder_pan": -25.0,
    "shoulder_lift": 12.0,
    "elbow_flex": 40.0,
    "wrist_flex": -15.0,
    "wrist_roll": 60.0,
}


def hold_pose(joints: list[str]):  # type: ignore[no-untyped-def]
    row = [POSE.get(j, 45.0) for j in joints]  # gripper: 45°
    return recorded_trajectory(joints, np.array([row]), fps=30.0)


@pytest.mark.parametrize(
    "robot, leader_cls, config_cls",
    [("so101", SO101Leader, SO101LeaderConfig), ("koch", KochLeader, KochLeaderConfig)],
)
def test_leader_reads_the_pose_of_the_virtual_leader_in_degrees(
    robot: str, leader_cls: type, config_cls: type, tmp_path: Path
) -> None:
    if (
        not hardware_path(robot, "motors.yaml").is_file()
        or not hardware_path(robot, f"{robot}.xml").is_file()
    ):
        pytest.skip(f"hardware/{robot} not there yet")
    joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
    with start_virtual_arm(robot, "leader", workdir=tmp_path, trajectory=hold_pose(joints)) as arm:
        # reply_timeout_s: the emulator shares 2 busy CI cores; a real servo answers far sooner.
        config = config_cls(
            port=arm.port, calibration_path=str(arm.calibration_path), reply_timeout_s=0.2
        )
        leader = leader_cls(config)
        with leader:
            action = leader.get_action()
            torque = {m.name: arm.bus.servo(m.id).peek("Torque_Enable") for m in arm.spec.motors}
            modes = {m.name: arm.bus.servo(m.id).peek("Operating_Mode") for m in arm.spec.motors}
    assert list(action) == [f"{j}.pos" for j in joints]
    for joint, deg in POSE.items():
        assert action[f"{joint}.pos"] == pytest.approx(deg, abs=0.5)
    spec = arm.spec
    gripper_pct = (
        100 * (45.0 - spec.gripper_closed_deg) / (spec.gripper_open_deg - spec.gripper_closed_deg)
    )
    assert action["gripper.pos"] == pytest.approx(gripper_pct, abs=1.0)
    if robot == "koch":  # the trigger: gripper in current-based position mode, torque on
        assert torque.pop("gripper") == 1 and modes["gripper"] == 5
    assert set(torque.values()) == {0}


def test_leader_without_port_says_what_to_set() -> None:
    with pytest.raises(ValueError, match=r"teleop\.port"):
        KochLeader(KochLeaderConfig()).connect()
