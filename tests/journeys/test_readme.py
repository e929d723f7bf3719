"""The README's journeys, run command by command exactly as printed.

Each ```bash block of the README is parsed here (``\\`` continuations joined, comments dropped,
quoting as a shell does it) and every command is run by the journey of its section. Only two things
are added, both at the end of a command line (the last value of a key wins): the ports of the
virtual arms standing in for ``/dev/ttyACM0`` (follower) and ``/dev/ttyACM1`` (leader), and tiny
sizes (steps, episodes, seconds) so the whole README runs in CI. ``<time>`` placeholders become the
run folder the previous command made. :func:`test_every_readme_command_belongs_to_a_journey` fails
when the README gains a command no journey runs, so the README cannot drift from the code again.
"""

from __future__ import annotations

import builtins
import http.client
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bricobot.cli.main import main
from bricobot.emulation import VirtualBus, VirtualServo
from bricobot.emulation.mujoco_arm import VirtualArm, start_virtual_arm
from tests.e2e.conftest import VIRTUAL_REPLY_TIMEOUT_S
from tests.e2e.test_virtual_calibration import calibrate_interactively

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
#: `scan` and `setup-motors` on an emulated bus: more than a servo needs (the emulator is a thread
#: of this process and may wait for a CPU); a broadcast ping listens twice as long.
SCAN_REPLY_TIMEOUT_S = 0.1
FOLLOWER_PORT, LEADER_PORT = "/dev/ttyACM0", "/dev/ttyACM1"

#: README section → where its commands run (this module, CI, or another test file).
JOURNEYS = {
    "Quick start": "test_quick_start",
    "From a new arm to a trained policy": "test_from_a_new_arm_to_a_trained_policy",
    "See your data and your training: `bricobot view`": "test_see_your_data_and_your_training",
    "No arm yet? Use a virtual one": "test_no_arm_yet_use_a_virtual_one",
    "Run the policy on another machine": "tests/remote/test_readme_commands.py",
    "Development": "test_development_commands_are_what_ci_runs",
}


def readme_commands() -> list[tuple[str, str]]:
    """``(section heading, command line)`` for every command in a ```bash block, in order."""
    out: list[tuple[str, str]] = []
    section, in_block, pending = "", False, ""
    for line in README.read_text().splitlines():
        heading = re.match(r"#{2,3} (.+)", line)
        if heading and not in_block:
            section = heading.group(1).strip()
        elif line.startswith("```"):
            in_block = line.strip() == "```bash"
        elif in_block:
            pending += line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            command = " ".join(shlex.split(pending, comments=True))
            if command:
                out.append((section, pending.split(" #")[0].strip()))
            pending = ""
    return out


def commands_of(section: str) -> list[list[str]]:
    """The argv of each command of ``section`` (after ``bricobot``), as a shell would split it."""
    found = [shlex.split(c, comments=True) for s, c in readme_commands() if s == section]
    assert found, f"README has no commands under {section!r}"
    return found


def test_every_readme_command_belongs_to_a_journey() -> None:
    sections = {section for section, _ in readme_commands()}
    unknown = sections - set(JOURNEYS)
    assert not unknown, f"README sections with commands no journey runs: {unknown}"
    for where in (JOURNEYS[section] for section in sections):
        if where.startswith("tests/"):
            assert (REPO / where).is_file(), where
        else:
            assert where in globals(), where


# --- running commands --------------------------------------------------------------------------


def run_bricobot(argv: list[str], *extra: str, expect: int = 0) -> None:
    """``bricobot <argv> <extra>`` in this process; the exit code must be ``expect``."""
    assert argv[0] == "bricobot", argv
    code = main([*argv[1:], *extra])
    assert code == expect, f"{shlex.join(argv)} {' '.join(extra)} exited {code}"


def loopback_get(port: int, timeout_s: float) -> str:
    """The page at ``/`` of a server on this machine (tests never leave loopback)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", "/")
        reply = connection.getresponse()
        assert reply.status == 200, reply.status
        return reply.read().decode()
    finally:
        connection.close()


def newest(folder: Path) -> Path:
    runs = sorted(p for p in folder.iterdir() if p.is_dir())
    assert runs, f"nothing in {folder}"
    return runs[-1]


def with_time(argv: list[str], run_folder: Path) -> list[str]:
    return [a.replace("<time>", run_folder.name) for a in argv]


@pytest.fixture
def arms(tmp_path: Path) -> Iterator[tuple[VirtualArm, VirtualArm]]:
    with (
        start_virtual_arm("so101", "follower", workdir=tmp_path / "virtual_f") as follower,
        start_virtual_arm("so101", "leader", workdir=tmp_path / "virtual_l") as leader,
    ):
        yield follower, leader


def fresh_motor_each_prompt(vbus: VirtualBus) -> Callable[[str], str]:
    """``input`` for setup-motors: at each "Connect ONLY the '<m>' motor" a factory-fresh servo
    (id 1) is the only one on the virtual bus, as when a person plugs in that motor alone."""

    def answer(prompt: str = "") -> str:
        assert "Connect ONLY" in prompt, prompt
        with vbus.locked():
            vbus.servos[:] = [VirtualServo("sts3215", 1)]
        return ""

    return answer


# --- the journeys ------------------------------------------------------------------------------


def test_from_a_new_arm_to_a_trained_policy(
    arms: tuple[VirtualArm, VirtualArm],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    follower, leader = arms
    monkeypatch.chdir(tmp_path)
    ports = {FOLLOWER_PORT: follower.port, LEADER_PORT: leader.port}
    timeouts = {
        "robot": f"robot.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
        "teleop": f"teleop.reply_timeout_s={VIRTUAL_REPLY_TIMEOUT_S}",
    }

    def port_overrides(argv: list[str]) -> list[str]:
        """The virtual port for each port key the command sets, appended (last value wins)."""
        out = []
        for arg in argv:
            key, _, value = arg.partition("=")
            if value in ports:
                out.append(f"{key}={ports[value]}")
                group = key.partition(".")[0]
                if group in timeouts:
                    out.append(timeouts[group])
        return out

    ran = []
    for argv in commands_of("From a new arm to a trained policy"):
        command = argv[1]
        ran.append(command)
        extra = port_overrides(argv)
        if command == "doctor":
            code = main(argv[1:])  # 1 when a check fails, e.g. no GPU or no serial port here
            assert code in (0, 1) and "rendering" in capsys.readouterr().out.lower()
        elif command == "find-port":
            run_bricobot(argv, expect=1)  # no USB serial adapter on a CI machine: says so
            assert "no USB serial port found" in capsys.readouterr().out
        elif command == "setup-motors":
            with VirtualBus([VirtualServo("sts3215", 1)]) as vbus:
                monkeypatch.setattr(builtins, "input", fresh_motor_each_prompt(vbus))
                run_bricobot(argv, f"port={vbus.port}", f"reply_timeout_s={SCAN_REPLY_TIMEOUT_S}")
                monkeypatch.undo()
                monkeypatch.chdir(tmp_path)
            assert "'gripper': id 6 at 1000000 baud" in capsys.readouterr().out
        elif command == "scan":
            run_bricobot(
                argv, *extra, "baudrates=[1000000]", f"reply_timeout_s={SCAN_REPLY_TIMEOUT_S}"
            )
            assert "sts3215" in capsys.readouterr().out
        elif command == "calibrate":
            arm = leader if "role=leader" in argv else follower
            calibrate_interactively(arm, [*argv[2:], *extra], tmp_path)
        elif command == "teleoperate":
            run_bricobot(argv, *extra, "duration_s=0.5")
        elif command == "record":
            tiny = [
                "dataset.num_episodes=2",
                "dataset.episode_time_s=0.6",
                "dataset.reset_time_s=0",
            ]
            run_bricobot(argv, *extra, *tiny)
        elif command == "dataset":
            run_bricobot(argv)
        elif command == "train":
            tiny = ["trainer.steps=3", "trainer.log_every=1", "trainer.val_every=2"]
            run_bricobot(argv, *tiny, "dataset.num_workers=0")
        elif command == "rollout":
            argv = with_time(argv, newest(tmp_path / "outputs/train"))
            run_bricobot(argv, *extra, "episode_time_s=0.5", "robot.torque_on_exit=release")
        else:
            pytest.fail(f"README command {shlex.join(argv)} has no step in this journey")
    assert ran[:5] == ["doctor", "find-port", "setup-motors", "scan", "calibrate"], ran


def test_see_your_data_and_your_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.policy_dataset import write_dataset
    from tests.viewer.helpers import write_fake_run

    monkeypatch.chdir(tmp_path)
    write_dataset(tmp_path / "data/pick", 2, 10)
    write_fake_run(tmp_path / "outputs/train/20261201-120000", steps=100)
    for argv in commands_of("See your data and your training: `bricobot view`"):
        argv = with_time(argv, newest(tmp_path / "outputs/train"))
        page = serve_once(argv)
        assert "<html" in page.lower()


def serve_once(argv: list[str], timeout_s: float = 60.0) -> str:
    """Start ``bricobot view …`` as a process, fetch the page it prints, stop it with Ctrl-C."""
    import signal

    env = {**os.environ, "BROWSER": "true"}  # --open: a browser that does nothing
    proc = subprocess.Popen(
        [sys.executable, "-m", "bricobot.cli.main", *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + timeout_s
        port = 0
        while not port and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"{shlex.join(argv)} exited before printing its address"
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            port = int(match.group(1)) if match else 0
        page = loopback_get(port, timeout_s)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=timeout_s) in (0, 130)
        return page
    finally:
        if proc.poll() is None:
            proc.kill()


def test_no_arm_yet_use_a_virtual_one(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in commands_of("No arm yet? Use a virtual one"):
        role = argv[argv.index("--role") + 1]
        run_bricobot(argv, "duration_s=0.5")
        out = capsys.readouterr().out
        assert "on port: /dev/pts/" in out and f"role={role}" in out
        assert "bricobot calibrate robot=so101" in out


def test_quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The setup part of both commands is the one CI runs (.ci/run checks the second verbatim);
    the demo at its end runs here with tiny sizes appended."""
    first, second = (c for s, c in readme_commands() if s == "Quick start")
    setup = "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 && .venv/bin/pip install -c constraints.txt -e "
    assert first.startswith(setup) and second.startswith(setup)
    assert second in (REPO / ".ci/run").read_text()
    demo = shlex.split(first.split("&&")[-1])
    assert demo == [".venv/bin/bricobot", "demo"]
    monkeypatch.chdir(tmp_path)
    run_bricobot(["bricobot", *demo[1:]], *TINY_DEMO)
    assert (newest(tmp_path / "outputs/demo") / "report.md").is_file()


def test_development_commands_are_what_ci_runs() -> None:
    (command,) = (c for s, c in readme_commands() if s == "Development")
    ci = (REPO / ".ci/run").read_text()
    for part in command.split("&&"):
        assert part.strip().removeprefix(".venv/bin/") in ci.replace(".venv/bin/", ""), part


# --- the performance table's commands ----------------------------------------------------------

#: Tiny sizes appended to each benchmark the performance table prints (argparse: the last value
#: of an option wins), so every command in the table runs here as printed.
TINY_BENCH_ARGS = {
    "scripts/expert_success.py": ["--episodes", "2"],
    "scripts/bench/experts.py": ["--episodes", "1", "--speed-steps", "5"],
    "scripts/benchmark_suite.py": [
        "--tasks",
        "so101_place_cube",
        "--demos",
        "2",
        "--steps",
        "2",
        "--eval-episodes",
        "2",
        "--eval-num-envs",
        "2",
        "--eval-videos",
        "0",
        "--codec",
        "libx264",
        "--no-progress",
    ],
    "scripts/bench/remote_latency.py": [
        "--seconds",
        "1",
        "--rtts-ms",
        "0",
        "--cameras",
        "front",
        "--image",
        "32",
        "--no-blocking",
    ],
    "scripts/bench/sim.py": ["--steps", "20"],
    "scripts/bench/bus.py": ["--n", "20"],
    "scripts/bus_fault_soak.py": ["--reads", "50"],
    "scripts/bench/dataset_write.py": [
        "--seconds",
        "0.5",
        "--episodes",
        "1",
        "--height",
        "48",
        "--width",
        "64",
    ],
    "scripts/bench/make_dataset.py": [
        "--episodes",
        "2",
        "--seconds",
        "5",
        "--height",
        "48",
        "--width",
        "64",
    ],
    "scripts/bench/train.py": ["--steps", "2"],
    "scripts/bench/loop.py": ["--seconds", "0.5", "--rates", "30", "--codecs", "libsvtav1"],
    "scripts/kill_recorder.py": ["--kills", "2"],
    "scripts/bench/viewer.py": ["--episodes", "3", "--repeat", "1"],
    "scripts/bench/inference.py": ["--calls", "2"],
    "scripts/bench/train_under_load.py": ["--steps", "2"],
    "scripts/bench/remote_success.py": ["--episodes", "1"],
    "scripts/bench/chunk_delay.py": ["--episodes", "1"],
}
#: Commands of the table that other tests run as printed (or that need hardware this machine lacks).
RUN_ELSEWHERE = {
    "bricobot demo": "test_quick_start runs it (tiny sizes appended)",
    "pytest tests/motors/test_bus.py -k unplugged -s": "part of the test suite itself",
    "scripts/bench/gpu.sh": "needs a CUDA GPU; checked for shell syntax here",
    "scripts/stress_tests.sh": "the whole suite 3 times under load (half an hour); syntax-checked here",
}

#: The quick start's demo with tiny sizes: what a ``outputs/demo/<time>`` in a command refers to.
TINY_DEMO = [
    "pipeline.num_demos=2",
    "pipeline.steps=2",
    "pipeline.eval_episodes=2",
    "pipeline.eval_num_envs=2",
    "pipeline.videos=0",
    "pipeline.num_workers=0",
]


def make_tiny_suite_run(cwd: Path, policy: str, task: str, env: dict[str, str]) -> None:
    """``outputs/suite/<policy>/<task>/train`` under ``cwd`` from a tiny suite run (2 demos, 2 steps,
    one 32×32 camera), unless there is one."""
    if (cwd / "outputs/suite" / policy / task / "train").is_dir():
        return
    suite = [sys.executable, str(REPO / "scripts/benchmark_suite.py")]
    suite += ["--out", f"outputs/suite/{policy}", "--policy", policy, "--tasks", task]
    suite += TINY_BENCH_ARGS["scripts/benchmark_suite.py"][2:]  # tiny sizes, not their task
    suite += ["--image-size", "32", "--cameras", "front"]
    subprocess.run(suite, cwd=cwd, env=env, check=True, capture_output=True)


#: Sections whose benchmark commands are printed inline (in tables and prose), not in bash blocks.
BENCHMARK_SECTIONS = ("### Simulation tasks", "## Performance")


def performance_commands() -> list[str]:
    """Every inline command of the benchmark sections (the Performance table's command column,
    the simulation tasks' figures), in order."""
    readme = README.read_text()
    commands = []
    for heading in BENCHMARK_SECTIONS:
        text = readme.split(heading, 1)[1]
        for line in re.split(r"\n#{2,3} ", text, maxsplit=1)[0].splitlines():
            if line.startswith("|"):  # a table: its last column holds the command
                cell = line.rstrip("|").rsplit("|", 1)[-1]
                commands += re.findall(r"`((?:python |bricobot |pytest |scripts/)[^`]*)`", cell)
            else:  # prose: scripts run with python
                commands += re.findall(r"`(python scripts/[^`]*)`", line)
    return list(dict.fromkeys(commands))


@pytest.mark.slow  # a dozen benchmark processes: minutes on 2 cores; `pytest -m slow` runs it
@pytest.mark.timeout(1800)
def test_performance_table_commands_run_with_tiny_sizes(tmp_path: Path) -> None:
    ran = []
    env = {**os.environ, "BRICOBOT_CACHE_DIR": str(tmp_path / "cache")}
    for command in performance_commands():
        argv = shlex.split(command)
        if command in RUN_ELSEWHERE:
            if command.endswith(".sh"):
                subprocess.run(["bash", "-n", str(REPO / command)], check=True)
            continue
        assert argv[0] == "python", f"the performance table's command {command!r} is not run here"
        script = argv[1]
        assert script in TINY_BENCH_ARGS, f"add tiny sizes for {script} to TINY_BENCH_ARGS"
        args = [a.replace("/tmp/", f"{tmp_path}/") for a in argv[2:]]
        if any("outputs/demo/<time>" in a for a in args):  # a demo run (tiny) to point at
            if not (tmp_path / "outputs/demo").is_dir():
                demo = [sys.executable, "-m", "bricobot.cli.main", "demo", *TINY_DEMO]
                subprocess.run(demo, cwd=tmp_path, env=env, check=True, capture_output=True)
            args = [a.replace("<time>", newest(tmp_path / "outputs/demo").name) for a in args]
        for arg in args:  # a suite run (tiny) to point at: outputs/suite/<policy>/<task>/train
            if match := re.fullmatch(r"outputs/suite/(\w+)/(\w+)/train", arg):
                make_tiny_suite_run(tmp_path, match.group(1), match.group(2), env)
        out = subprocess.run(
            [sys.executable, str(REPO / script), *args, *TINY_BENCH_ARGS[script]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, f"{command}: {out.stderr[-2000:]}"
        ran.append(script)
    assert "scripts/bench/train.py" in ran and len(ran) >= 10, ran
