from __future__ import annotations

import time

import pytest

from bricobot.runtime.clock import FakeClock, SystemClock


def test_fake_clock_moves_only_on_sleep_or_advance() -> None:
    clock = FakeClock(start_s=5.0)
    assert clock.now() == 5.0
    clock.sleep_until(5.5)
    assert clock.now() == 5.5
    clock.sleep_until(1.0)  # a passed deadline returns at once, time never goes back
    assert clock.now() == 5.5
    clock.advance(0.25)
    assert clock.now() == 5.75
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1.0)


def test_system_clock_never_returns_before_the_deadline() -> None:
    clock = SystemClock()
    for _ in range(5):
        deadline = clock.now() + 0.003
        clock.sleep_until(deadline)
        assert time.monotonic() >= deadline


def test_system_clock_rejects_negative_spin() -> None:
    with pytest.raises(ValueError, match="spin_s"):
        SystemClock(spin_s=-0.1)
