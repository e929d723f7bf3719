from __future__ import annotations

from collections.abc import Callable

from bricobot.runtime.commands import keyboard_events
from bricobot.runtime.events import EpisodeEvents


def test_polled_key_events_set_the_matching_flags() -> None:
    pending = [["next"], [], ["rerecord", "stop"]]
    events = EpisodeEvents(poll=lambda: pending.pop(0) if pending else [])
    assert events.any_set() and events.next_episode.is_set()
    events.clear_episode_flags()
    assert not events.next_episode.is_set()
    assert events.any_set()
    assert events.rerecord.is_set() and events.stop.is_set()
    events.clear_episode_flags()
    assert events.stop.is_set()  # stop survives the start of the next episode


class _Reader:
    """Stands in for a keyboard teleoperator's terminal reader."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def take(self, wanted: Callable[[str], bool] | None = None) -> list[str]:
        taken = [k for k in self.keys if wanted is None or wanted(k)]
        self.keys = [k for k in self.keys if k not in taken]
        return taken


class _KeyboardTeleop:
    def __init__(self, keys: list[str]) -> None:
        self.reader = _Reader(keys)


def test_a_keyboard_teleoperator_shares_its_terminal_with_the_episode_keys() -> None:
    teleop = _KeyboardTeleop(["w", "right", "s", "esc"])
    with keyboard_events(True, teleop) as events:
        assert events.any_set()
        assert events.next_episode.is_set() and events.stop.is_set()
        # The episode keys are printed with a keyboard teleoperator too (they were not).
        assert "→ or n = next" in events.keys_help and "Esc or x = stop" in events.keys_help
    assert teleop.reader.keys == ["w", "s"]  # joint keys stay for the teleoperator


def test_keys_can_be_turned_off() -> None:
    teleop = _KeyboardTeleop(["right"])
    with keyboard_events(False, teleop) as events:
        assert not events.any_set()
        assert not events.keys_active and events.keys_help == ""
