"""motors.yaml loader: good files load, bad ones name the file, the entry and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bricobot.motors.spec import load_motors_spec

GOOD = """
robot_type: test_arm
bus: feetech
default_baudrate: 500000
motors:
  - {name: shoulder_pan, id: 1, model: sts3215, direction: -1, range_deg: [-90, 90]}
  - {name: gripper, id: 6, model: sts3215}
gripper: {closed_deg: 5, open_deg: 95}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "motors.yaml"
    path.write_text(text)
    return path


def test_loads_motors_and_gripper(tmp_path: Path) -> None:
    spec = load_motors_spec(_write(tmp_path, GOOD))
    assert (spec.robot_type, spec.bus, spec.baudrate) == ("test_arm", "feetech", 500_000)
    assert spec.by_name("shoulder_pan").direction == -1
    assert spec.gripper_name == "gripper" and spec.gripper_open_deg == 95
    assert [m.id for m in spec.bus_motors()] == [1, 6]


def test_koch_file_ships_with_the_package() -> None:
    spec = load_motors_spec("koch")
    assert [m.model for m in spec.motors] == ["xl430-w250"] * 2 + ["xl330-m288"] * 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("model: sts3215}", "model: sts9999}"),
            r"motors\[1\]: unknown model 'sts9999'; supported",
        ),
        (("id: 6", "id: 1"), "duplicate motor id"),
        (("bus: feetech", "bus: can"), "bus 'can' must be one of feetech, dynamixel"),
        (("[-90, 90]", "[90, -90]"), "must be increasing"),
        (("model: sts3215}", "model: xl330-m288}"), "not a feetech servo"),
    ],
)
def test_bad_entries_are_named(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ValueError, match=message):
        load_motors_spec(path)


def test_missing_file_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="robot folder name"):
        load_motors_spec(tmp_path / "nope.yaml")
