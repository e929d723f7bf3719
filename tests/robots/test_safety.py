"""Every action is checked before it reaches a motor: keys, finite values, limits, motion cap."""

from __future__ import annotations

import math

import pytest

from bricobot.robots.safety import ActionSafety

KEYS = ["shoulder_pan.pos", "elbow_flex.pos", "gripper.pos"]


def make_safety(max_step: float | None = 5.0) -> ActionSafety:
    limits = {
        "shoulder_pan.pos": (-110.0, 110.0),
        "elbow_flex.pos": (-90.0, 90.0),
        "gripper.pos": (0.0, 100.0),
    }
    steps = {k: max_step for k in KEYS} if max_step else None
    return ActionSafety(KEYS, limits=limits, max_step=steps)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "12", None, True])
def test_non_finite_or_non_numeric_values_are_refused_naming_the_key(bad: object) -> None:
    action = {"shoulder_pan.pos": 0.0, "elbow_flex.pos": bad, "gripper.pos": 50.0}
    with pytest.raises(ValueError, match=r"elbow_flex\.pos"):
        make_safety().check(action, reference={k: 0.0 for k in KEYS})


def test_missing_and_unknown_keys_are_refused_not_padded() -> None:
    safety = make_safety()
    with pytest.raises(ValueError, match=r"missing \['gripper.pos'\]"):
        safety.check({"shoulder_pan.pos": 0.0, "elbow_flex.pos": 0.0})
    with pytest.raises(ValueError, match=r"wrist_roll\.pos"):
        safety.check(
            {
                "shoulder_pan.pos": 0.0,
                "elbow_flex.pos": 0.0,
                "gripper.pos": 1.0,
                "wrist_roll.pos": 0.0,
            }
        )


def test_values_outside_joint_limits_are_clipped_and_reported() -> None:
    result = make_safety(max_step=None).check(
        {"shoulder_pan.pos": 200.0, "elbow_flex.pos": -95.0, "gripper.pos": 50.0}
    )
    assert result.action == {
        "shoulder_pan.pos": 110.0,
        "elbow_flex.pos": -90.0,
        "gripper.pos": 50.0,
    }
    assert set(result.clipped) == {"shoulder_pan.pos", "elbow_flex.pos"}
    assert result.clipped["shoulder_pan.pos"].requested == 200.0
    assert result.clipped["shoulder_pan.pos"].reason == "limit"


def test_motion_cap_limits_each_step_relative_to_the_measured_position() -> None:
    reference = {"shoulder_pan.pos": 10.0, "elbow_flex.pos": 0.0, "gripper.pos": 50.0}
    result = make_safety(max_step=5.0).check(
        {"shoulder_pan.pos": 40.0, "elbow_flex.pos": -3.0, "gripper.pos": 20.0}, reference
    )
    assert result.action == {"shoulder_pan.pos": 15.0, "elbow_flex.pos": -3.0, "gripper.pos": 45.0}
    assert result.clipped["shoulder_pan.pos"].reason == "max_step"
    assert "elbow_flex.pos" not in result.clipped


def test_returned_action_keeps_the_robot_key_order() -> None:
    action = {"gripper.pos": 1.0, "shoulder_pan.pos": 2.0, "elbow_flex.pos": 3.0}
    assert list(make_safety(None).check(action).action) == KEYS


def test_bad_tables_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown action keys"):
        ActionSafety(KEYS, limits={"nope.pos": (0.0, 1.0)})
    with pytest.raises(ValueError, match="max_step"):
        ActionSafety(KEYS, max_step={"gripper.pos": 0.0})
