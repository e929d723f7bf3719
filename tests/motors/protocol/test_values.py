"""Sign-magnitude (Feetech) and two's complement (Dynamixel) values."""

from __future__ import annotations

import pytest
import scservo_sdk as scs
from hypothesis import given
from hypothesis import strategies as st

from bricobot.motors.protocol.values import (
    decode_sign_magnitude,
    decode_twos_complement,
    encode_sign_magnitude,
    encode_twos_complement,
)


@given(st.integers(-2047, 2047))
def test_homing_offset_sign_magnitude_matches_vendor_sdk(value: int) -> None:
    word = encode_sign_magnitude(value, 11)
    assert word == scs.SCS_TOSCS(value, 11)
    assert decode_sign_magnitude(word, 11) == value == scs.SCS_TOHOST(word, 11)


@pytest.mark.parametrize("value", [2048, -2048, 5000])
def test_homing_offset_beyond_2047_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="2047"):
        encode_sign_magnitude(value, 11)


def test_negative_is_not_twos_complement_on_feetech() -> None:
    assert encode_sign_magnitude(-1, 15) == 0x8001


@given(
    st.integers(1, 4).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(-(1 << (8 * n - 1)), (1 << (8 * n - 1)) - 1))
    )
)
def test_twos_complement_round_trip(size_value: tuple[int, int]) -> None:
    size, value = size_value
    assert decode_twos_complement(encode_twos_complement(value, size), size) == value
