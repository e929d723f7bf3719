"""Control tables: model numbers and key registers as documented."""

from __future__ import annotations

import pytest

from bricobot.motors.tables import MODELS, model_by_number, model_spec


@pytest.mark.parametrize(
    ("model", "number"),
    [("sts3215", 777), ("sts3250", 2825), ("scs0009", 1284), ("xl330-m288", 1200),
     ("xl330-m077", 1190), ("xl430-w250", 1060)],
)  # fmt: skip
def test_model_numbers(model: str, number: int) -> None:
    assert model_spec(model).model_number == number
    assert model_spec(model).defaults["Model_Number"] == number
    assert model_by_number(model_spec(model).protocol.value[:7], number) is MODELS[model]


def test_key_registers() -> None:
    sts = model_spec("sts3215")
    assert (sts.register("Homing_Offset").address, sts.register("Homing_Offset").sign_bit) == (
        31,
        11,
    )
    assert (
        sts.register("Lock").address == 55 and model_spec("scs0009").register("Lock").address == 48
    )
    xl = model_spec("xl330-m288")
    assert (xl.register("Present_Position").address, xl.register("Present_Position").size) == (
        132,
        4,
    )
    assert xl.register("Homing_Offset").signed and xl.register("Homing_Offset").eeprom


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(KeyError, match="supported models: sts3215"):
        model_spec("sts9")
    with pytest.raises(KeyError, match="Present_Position"):
        model_spec("sts3215").register("Present_Pos")
