from __future__ import annotations

import math
import os
import threading

import pytest

from bricobot.runtime.clock import FakeClock
from bricobot.runtime.loop import ControlLoop, UnsafeActionError
from bricobot.runtime.sinks import SinkError, SinkWorker
from bricobot.runtime.timing import RateWatch, rate_shortfall
from tests.fakes.runtime_devices import JOINTS, FakeRobot, FakeSink, FakeTeleop


def _teleop_source(teleop: FakeTeleop):
    return lambda obs: teleop.get_action()


def test_steps_start_on_absolute_deadlines_despite_work_time() -> None:
    clock = FakeClock(start_s=100.0)
    robot = FakeRobot(clock, read_time_s=0.004, send_time_s=0.003)
    robot.connect()
    loop = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=50, clock=clock)
    result = loop.run(max_steps=10)
    assert result.steps == 10 and result.reason == "max_steps"
    # Deadlines are t0 + k/50 exactly: work time does not push later steps back (no drift).
    assert clock.deadlines_s == pytest.approx([100.0 + k * 0.02 for k in range(10)])
    assert result.timing.overruns == 0
    assert max(result.timing.start_error_s) == 0.0
    summary = result.timing.summary()
    assert summary["stages_ms"]["read"]["median"] == pytest.approx(4.0)
    assert summary["stages_ms"]["send"]["median"] == pytest.approx(3.0)
    assert summary["period_error_ms"]["p99"] == pytest.approx(0.0, abs=1e-6)


def test_duration_sets_the_number_of_steps() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    result = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock).run(
        duration_s=2.0
    )
    assert result.steps == 60 and result.reason == "duration"
    assert len(robot.sent) == 60


def test_overrun_is_counted_and_the_loop_stays_on_its_grid() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    calls = 0

    def slow_policy(obs):
        nonlocal calls
        calls += 1
        if calls == 3:
            clock.advance(0.035)  # 3.5 periods of 10 ms: deadlines 3, 4 and 5 are missed
        return {f"{j}.pos": 0.0 for j in JOINTS}

    result = ControlLoop(robot, slow_policy, fps=100, clock=clock).run(max_steps=6)
    timing = result.timing
    assert timing.overruns == 1
    assert timing.skipped_deadlines == 2
    # Step 3 (0-based) starts late at once, then the loop is back on the 10 ms grid, not bursting.
    starts = [0.0, 0.01, 0.02, 0.055, 0.06, 0.07]
    assert timing.start_error_s[3] == pytest.approx(0.005)
    assert clock.deadlines_s == pytest.approx([0.0, 0.01, 0.02, 0.05, 0.06, 0.07])
    assert [
        round(s, 3) for s in [0.0, *[sum(timing.intervals_s[: i + 1]) for i in range(5)]]
    ] == starts
    assert timing.summary()["stages_ms"]["infer"]["max"] == pytest.approx(35.0)


def test_stop_request_ends_after_the_current_step() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    stop = threading.Event()
    teleop = FakeTeleop()

    def source(obs):
        if teleop.calls == 4:
            stop.set()
        return teleop.get_action()

    result = ControlLoop(robot, source, fps=30, clock=clock, should_stop=stop.is_set).run()
    assert result.reason == "stopped"
    assert result.steps == 5 and len(robot.sent) == 5


@pytest.mark.parametrize(
    "bad",
    [
        {**{f"{j}.pos": 0.0 for j in JOINTS}, "shoulder_pan.pos": math.nan},
        {**{f"{j}.pos": 0.0 for j in JOINTS}, "gripper.pos": math.inf},
        {f"{j}.pos": 0.0 for j in JOINTS[:-1]},
        {**{f"{j}.pos": 0.0 for j in JOINTS}, "extra.pos": 1.0},
    ],
)
def test_a_malformed_action_never_reaches_the_robot(bad) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    with pytest.raises(UnsafeActionError):
        ControlLoop(robot, lambda obs: bad, fps=30, clock=clock).run(max_steps=3)
    assert robot.sent == []


def test_frames_reach_sinks_on_another_thread_in_order() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, cameras={"front": (4, 6, 3)})
    robot.connect()
    sink = FakeSink()
    with SinkWorker([sink]) as worker:
        ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, sinks=worker).run(
            max_steps=20
        )
        worker.flush(timeout_s=10)
    assert [f.index for f in sink.frames] == list(range(20))
    assert threading.get_ident() not in sink.threads
    frame = sink.frames[5]
    assert frame.timestamp_s == pytest.approx(5 / 30)
    assert frame.action == robot.sent[5]
    assert frame.observation["front"].shape == (4, 6, 3)
    assert set(frame.capture_times_s) == {"observation.state", "front"}


def test_a_blocked_sink_never_blocks_the_loop() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    sink = FakeSink()
    sink.release.clear()  # the sink is stuck (disk stall)
    worker = SinkWorker([sink])
    try:
        result = ControlLoop(
            robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, sinks=worker
        ).run(max_steps=50)
        assert result.steps == 50
        assert worker.max_backlog >= 49
        sink.release.set()
        worker.flush(timeout_s=10)
        assert len(sink.frames) == 50  # nothing dropped once the sink catches up
    finally:
        sink.release.set()
        worker.close()


def test_a_failing_sink_stops_the_loop_with_its_name() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    sink = FakeSink(fail_at=2)
    with SinkWorker([sink]) as worker:
        loop = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, sinks=worker)
        with pytest.raises(SinkError, match="FakeSink"):
            loop.run(max_steps=3)
            worker.flush(timeout_s=10)
            loop.run(max_steps=3)


def test_invalid_fps_is_rejected() -> None:
    with pytest.raises(ValueError, match="fps"):
        ControlLoop(FakeRobot(), lambda obs: {}, fps=0)


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling API")
def test_a_refused_realtime_priority_warns_and_runs_at_normal_priority(caplog) -> None:
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    loop = ControlLoop(
        robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, realtime_priority=1000
    )
    assert loop.run(max_steps=2).steps == 2  # 1000 is outside 1-99: refused by the OS
    assert "real-time priority 1000 not allowed" in caplog.text


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling API")
def test_a_realtime_loop_gives_its_thread_back_its_normal_policy() -> None:
    """A real-time policy outliving the loop would pass to every process started later."""
    before = os.sched_getscheduler(0)
    clock = FakeClock()
    robot = FakeRobot(clock)
    robot.connect()
    during: list[int] = []

    def source(obs):  # type: ignore[no-untyped-def]
        during.append(os.sched_getscheduler(0))
        return {f"{j}.pos": 0.0 for j in JOINTS}

    ControlLoop(robot, source, fps=30, clock=clock, realtime_priority=1).run(max_steps=2)
    if during[0] != os.SCHED_FIFO:
        pytest.skip("real-time priority not allowed here (no CAP_SYS_NICE or rtprio limit)")
    assert during == [os.SCHED_FIFO] * 2
    assert os.sched_getscheduler(0) == before


def _slow_loop(clock: FakeClock, watch: RateWatch, read_time_s: float, steps: int) -> None:
    robot = FakeRobot(clock, read_time_s=read_time_s)
    robot.connect()
    loop = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, rate_watch=watch)
    loop.run(max_steps=steps)


def test_a_loop_below_its_rate_warns_once_when_overruns_start_then_rate_limited() -> None:
    clock = FakeClock()
    warnings: list[str] = []
    watch = RateWatch(warn=warnings.append, window_s=2.0, repeat_s=30.0)
    _slow_loop(clock, watch, read_time_s=0.08, steps=240)  # 80 ms steps at 30 Hz: 12.5 Hz, 19 s
    assert len(warnings) == 1
    assert warnings[0].startswith("control loop is running at 12.5 Hz, below the 30 Hz target:")
    assert "25 of 25 steps overran" in warnings[0] and "slowest stage: read 80.0 ms" in warnings[0]
    _slow_loop(clock, watch, read_time_s=0.08, steps=240)  # the next episode shares the watch
    assert len(warnings) == 2  # once more only after 30 s of slowness, not once per run


def test_a_loop_that_keeps_its_rate_never_warns() -> None:
    clock = FakeClock()
    warnings: list[str] = []
    _slow_loop(clock, RateWatch(warn=warnings.append), read_time_s=0.02, steps=300)
    assert warnings == []


def test_the_summary_says_when_the_loop_missed_its_rate() -> None:
    clock = FakeClock()
    robot = FakeRobot(clock, read_time_s=0.08)
    robot.connect()
    slow = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, rate_watch=False)
    text = rate_shortfall([slow.run(max_steps=90).timing.summary()])
    assert text.startswith(
        "control loop ran at 12.5 Hz, below the 30 Hz target: 90 of 90 steps overran"
    )
    assert "slowest stage: read (median 80.0 ms" in text
    robot.read_time_s = 0.01
    fine = ControlLoop(robot, _teleop_source(FakeTeleop()), fps=30, clock=clock, rate_watch=False)
    assert rate_shortfall([fine.run(max_steps=90).timing.summary()]) == ""
