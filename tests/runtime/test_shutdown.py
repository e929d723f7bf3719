from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bricobot.runtime.loop import ControlLoop
from bricobot.runtime.shutdown import ShutdownSignals, robot_session, shutdown_devices
from tests.fakes.runtime_devices import FakeRobot, FakeTeleop

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("mode", "torque_on", "parked"),
    [("hold", True, False), ("release", False, False), ("park", False, True)],
)
def test_normal_end_leaves_torque_as_configured(mode, torque_on, parked) -> None:
    robot, teleop = FakeRobot(on_exit=mode), FakeTeleop()
    with robot_session(robot, [teleop]) as stop:
        ControlLoop(robot, lambda o: teleop.get_action(), fps=200, should_stop=stop).run(
            max_steps=3
        )
    assert robot.torque_on is torque_on and robot.parked is parked
    assert not robot.is_connected and not teleop.is_connected
    assert robot.events == ["connect", f"disconnect:{mode}"]


@pytest.mark.parametrize("mode", ["hold", "park", "release"])
def test_exception_mid_run_still_runs_the_configured_shutdown(mode) -> None:
    robot, teleop = FakeRobot(on_exit=mode, fail_at_step=2), FakeTeleop()
    with pytest.raises(RuntimeError, match="fake failure"), robot_session(robot, [teleop]) as stop:
        ControlLoop(robot, lambda o: teleop.get_action(), fps=200, should_stop=stop).run()
    assert robot.events == ["connect", f"disconnect:{mode}"]
    assert robot.torque_on is (mode == "hold")
    assert not teleop.is_connected


def test_first_ctrl_c_stops_the_loop_gracefully_and_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGINT)
    robot, teleop = FakeRobot(on_exit="park"), FakeTeleop()

    def source(obs):
        if teleop.calls == 3:
            signal.raise_signal(signal.SIGINT)
        return teleop.get_action()

    with robot_session(robot, [teleop]) as stop:
        result = ControlLoop(robot, source, fps=200, should_stop=stop).run()
    assert result.reason == "stopped" and stop.received == "SIGINT"
    assert robot.parked and not robot.torque_on
    assert signal.getsignal(signal.SIGINT) is before


def test_second_ctrl_c_releases_at_once_without_parking() -> None:
    robot, teleop = FakeRobot(on_exit="park"), FakeTeleop()

    def source(obs):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        return teleop.get_action()

    with pytest.raises(KeyboardInterrupt), robot_session(robot, [teleop]) as stop:
        ControlLoop(robot, source, fps=200, should_stop=stop).run()
    assert robot.events == ["connect", "release"]
    assert not robot.torque_on and not robot.parked


def test_shutdown_errors_are_logged_not_raised(caplog) -> None:
    class Broken(FakeRobot):
        def disconnect(self) -> None:
            raise OSError("port /dev/ttyACM0 vanished")

    robot, teleop = Broken(), FakeTeleop()
    robot.connect()
    teleop.connect()
    shutdown_devices(robot, [teleop])
    assert "ttyACM0" in caplog.text
    assert not teleop.is_connected


def test_signals_outside_the_main_thread_are_a_no_op() -> None:
    import threading

    seen: list[object] = []

    def body() -> None:
        with ShutdownSignals() as s:
            seen.append(s.stop_requested.is_set())

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [False]


CHILD = textwrap.dedent(
    """
    import json, sys
    from bricobot.runtime.loop import ControlLoop
    from bricobot.runtime.shutdown import robot_session
    from tests.fakes.runtime_devices import FakeRobot, FakeTeleop

    announce = lambda: print("parking", flush=True)
    robot = FakeRobot(on_exit=sys.argv[1], park_time_s=float(sys.argv[2]), on_park=announce)
    teleop = FakeTeleop()
    out = sys.argv[3]
    def source(obs):
        if teleop.calls == 5:
            print("ready", flush=True)
        return teleop.get_action()
    try:
        with robot_session(robot, [teleop]) as stop:
            result = ControlLoop(robot, source, fps=100, should_stop=stop).run(duration_s=60)
            reason = result.reason
    except KeyboardInterrupt:
        reason = "interrupted"
    with open(out, "w") as f:
        json.dump({"reason": reason, "events": robot.events, "torque_on": robot.torque_on,
                   "parked": robot.parked, "teleop": teleop.is_connected}, f)
    """
)


def _run_child(tmp_path: Path, mode: str, park_time_s: float, signals: list[int]) -> dict:
    out = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(park_time_s), str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    for i, signum in enumerate(signals):
        proc.send_signal(signum)
        if park_time_s and i == 0:
            # The next signal must find the slow park under way: the child says when it starts.
            assert proc.stdout.readline().strip() == "parking"
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.read_text())


def test_sigterm_in_a_subprocess_stops_with_the_configured_torque(tmp_path: Path) -> None:
    state = _run_child(tmp_path, "park", 0.0, [signal.SIGTERM])
    assert state["reason"] == "stopped"
    assert state["events"] == ["connect", "disconnect:park"]
    assert state["parked"] and not state["torque_on"] and not state["teleop"]


def test_double_ctrl_c_in_a_subprocess_interrupts_a_slow_park(tmp_path: Path) -> None:
    state = _run_child(tmp_path, "park", 20.0, [signal.SIGINT, signal.SIGINT])
    assert state["reason"] == "interrupted"  # the second Ctrl-C ends the command
    assert state["events"] == ["connect", "disconnect:park", "release"]
    assert not state["parked"] and not state["torque_on"] and not state["teleop"]
