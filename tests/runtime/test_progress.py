"""Live feedback while recording: the status line, the phases the recorder reports, key help."""

from __future__ import annotations

import io
import logging

import pytest

from bricobot.runtime.clock import FakeClock
from bricobot.runtime.commands import key_help
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.progress import (
    CLEAR_LINE,
    LiveRecordProgress,
    Phase,
    StatusLine,
    format_phase,
)
from bricobot.runtime.record import RecordResult, RecordSettings, describe_record, record_episodes
from bricobot.teleop.keyboard import KeyboardEvents, KeyboardTeleop, KeyboardTeleopConfig
from tests.fakes.runtime_devices import FakeRobot, FakeTeleop
from tests.fakes.runtime_writer import FakeWriter


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, so the status line is drawn in place."""

    def isatty(self) -> bool:
        return True


class _Phases:
    """A RecordProgress double: every phase the recorder reported, with the fake time it began."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, int, int, float, float]] = []
        self.idles = 0

    def phase(self, kind: str, episode: int, total: int, duration_s: float) -> None:
        self.seen.append((kind, episode, total, duration_s, self.clock.now()))

    def idle(self) -> None:
        self.idles += 1


def test_elapsed_and_remaining_time_of_an_episode_and_a_reset_period() -> None:
    recording = Phase("recording", 3, 50, 30.0, start_s=100.0)
    assert (
        format_phase(recording, 112.3) == "episode 3/50  recording   12.3 s / 30 s  (17.7 s left)"
    )
    reset = Phase("reset", 4, 50, 10.0, start_s=200.0)
    text = format_phase(reset, 204.0, keys_hint="→ or n")
    assert text.startswith("reset the scene    4.0 s / 10 s  (6.0 s left)  next: episode 4/50")
    assert text.endswith("(→ or n starts it now)")
    assert "left" in format_phase(recording, 500.0) and "(0.0 s left)" in format_phase(
        recording, 500.0
    )


def test_the_recorder_reports_each_episode_and_reset_with_its_number() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    teleop = FakeTeleop()
    events = EpisodeEvents()
    phases = _Phases(clock)

    def source(obs):
        if teleop.calls == 4:
            events.rerecord.set()  # the first attempt at episode 1 is re-recorded
        return teleop.get_action()

    settings = RecordSettings(num_episodes=2, episode_time_s=1.0, reset_time_s=0.5, fps=10)
    result = record_episodes(
        robot, source, FakeWriter(robot), settings, events=events, clock=clock, progress=phases
    )
    assert result.episodes_saved == 2
    kinds = [(kind, episode, total, duration) for kind, episode, total, duration, _ in phases.seen]
    assert kinds == [
        ("recording", 1, 2, 1.0),
        ("reset", 1, 2, 0.5),  # re-record: the reset leads back to episode 1
        ("recording", 1, 2, 1.0),
        ("reset", 2, 2, 0.5),
        ("recording", 2, 2, 1.0),
    ]
    # Each phase starts when the one before ends (its last step at 0.1 s periods), on fake time.
    starts = [start for *_, start in phases.seen]
    assert starts == pytest.approx([0.0, 0.4, 0.8, 1.7, 2.1])
    assert phases.idles >= len(phases.seen)  # cleared after every phase (saving shows nothing)


def test_the_status_line_is_redrawn_in_place_and_log_lines_print_above_it() -> None:
    clock = FakeClock(start_s=10.0)
    terminal = _Terminal()
    handler = logging.StreamHandler(terminal)
    logging.getLogger().addHandler(handler)
    try:
        # A long interval: the test draws by hand, the thread never does.
        with LiveRecordProgress(clock, stream=terminal, interval_s=3600) as live:
            live.phase("recording", 1, 5, 20.0)
            clock.advance(2.5)
            live.status.refresh()
            logging.getLogger("bricobot.test").warning("saved episode 1")
            live.print_above("[   0.00 s] follower goal:  gripper   40.00")
    finally:
        logging.getLogger().removeHandler(handler)
    out = terminal.getvalue()
    first = out.index(CLEAR_LINE + "episode 1/5  recording    0.0 s / 20 s")
    second = out.index(CLEAR_LINE + "episode 1/5  recording    2.5 s / 20 s  (17.5 s left)")
    log_line = out.index(CLEAR_LINE + "saved episode 1\n")
    row = out.index("[   0.00 s] follower goal:")
    assert first < second < log_line < row
    assert out[row - 1] == "\n" or out[:row].endswith(CLEAR_LINE)  # on a line of its own
    assert out.endswith(("\n", CLEAR_LINE))  # leaves a clean line for what comes after
    assert handler.filters == []  # detached from the log handler when closed


def test_without_a_terminal_the_status_is_a_plain_line() -> None:
    stream = io.StringIO()
    status = StatusLine(lambda: "episode 2/3  recording    1.0 s / 5 s  (4.0 s left)", stream)
    status.refresh()
    status.clear()
    assert stream.getvalue() == "episode 2/3  recording    1.0 s / 5 s  (4.0 s left)\n"


def test_keyboard_teleop_and_recording_print_every_key_that_is_live() -> None:
    teleop = KeyboardTeleop(KeyboardTeleopConfig())
    events = EpisodeEvents(poll=lambda: [], keys_help=KeyboardEvents.help_text())
    lines = key_help(teleop, events, "record")
    assert "shoulder_pan q/a" in lines[0] and "gripper y/h" in lines[0] and "2°" in lines[0]
    assert "→ or n" in lines[1] and "re-record" in lines[1] and "stop" in lines[1]
    assert lines[2].startswith("Ctrl-C") and "discarded" in lines[2]
    off = key_help(FakeTeleop(), EpisodeEvents(), "record")
    assert off[0].startswith("episode keys off")
    teleoperate = key_help(teleop, None, "teleoperate")
    assert len(teleoperate) == 2 and "q/a" in teleoperate[0]


def test_the_end_line_says_what_ctrl_c_did() -> None:
    cut = RecordResult(
        episodes_saved=3,
        episodes_discarded=1,
        reason="signal",
        interrupted_episode=4,
        signal="SIGINT",
        dataset_episodes=3,
    )
    assert (
        describe_record(cut, "data/pick")
        == "interrupted (SIGINT): episode 4 discarded (not saved); 3 episodes saved in data/pick"
    )
    in_reset = RecordResult(episodes_saved=2, reason="signal", signal="SIGTERM", dataset_episodes=7)
    assert describe_record(in_reset, "d") == (
        "interrupted (SIGTERM): during the reset period, nothing lost; "
        "2 episodes saved in d (it now holds 7)"
    )
    done = RecordResult(episodes_saved=1, episodes_discarded=2, dataset_episodes=1)
    assert (
        describe_record(done, "d")
        == "recorded 1 episode(s) into d; 2 re-recorded attempt(s) discarded"
    )
