"""The two commands of the README's "Run the policy on another machine", run as printed.

Only overrides appended at the end differ: a free port instead of 8765 (tests share the machine),
the address of the server this test started instead of ``gpu-box.local``, short episodes, and
longer timeouts so a loaded machine does not fail it.
The server runs as its own process, as it would on the GPU machine, and is stopped with SIGTERM.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.fakes.runtime_policy import tiny_act_checkpoint

from bricobot.registry import make
from bricobot.robots.registry import ROBOTS
from bricobot.robots.sim import SimRobotConfig

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Run the policy on another machine"
TIMEOUT_S = 300
#: Appended to the rollout: short episodes, and patience with a loaded machine.
SHORT_AND_PATIENT = (
    "episode_time_s=0.5",
    "reset_time_s=0",
    "remote_outage_s=300",
    "remote_options.request_timeout_s=60",
)


def readme_commands() -> list[str]:
    """The ``bricobot`` lines of the section's bash block, exactly as printed."""
    text = README.read_text()
    assert SECTION in text, f"README has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the section has no bash block"
    return [line for line in block.group(1).splitlines() if line.startswith("bricobot ")]


def argv(line: str, *extra: str) -> list[str]:
    """The command line as a process would get it, with ``extra`` overrides appended."""
    words = shlex.split(line)
    assert words[0] == "bricobot"
    return [sys.executable, "-m", "bricobot.cli.main", *words[1:], *extra]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_prints_a_server_and_a_robot_command() -> None:
    commands = readme_commands()
    assert [shlex.split(c)[1] for c in commands] == ["serve-policy", "rollout"]
    assert "remote=" in commands[1] and "policy_path=" in commands[0]


def test_the_readme_commands_run_as_printed(tmp_path: Path) -> None:
    serve, rollout = readme_commands()
    robot = make(ROBOTS, "robot", SimRobotConfig())  # robot=so101_sim as the README gives it
    run = tmp_path / "outputs" / "train" / "pick" / "checkpoints"
    tiny_act_checkpoint(robot, run / "000010" / "pretrained_model", chunk_size=10)
    os.symlink("000010", run / "last")
    env = {**os.environ, "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1", "BRICOBOT_DEBUG": "1"}
    port = free_port()
    server = subprocess.Popen(
        argv(serve, f"port={port}"), cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the first line says where it listens
        assert f"on 0.0.0.0:{port}" in line, line
        client = subprocess.run(
            argv(rollout, f"remote=127.0.0.1:{port}", *SHORT_AND_PATIENT),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert client.returncode == 0, client.stderr[-3000:]
        assert "remote policy over 2 episode(s)" in client.stdout
        assert "ran 2 episode(s)" in client.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=TIMEOUT_S)
    assert server.returncode == 0
    assert "stopped; served 1 robot connection(s)" in out


def test_the_readme_server_without_its_token_refuses_the_network(tmp_path: Path) -> None:
    serve = readme_commands()[0].replace(" token=change-me", "")
    robot = make(ROBOTS, "robot", SimRobotConfig())
    checkpoint = tmp_path / "outputs" / "train" / "pick" / "checkpoints" / "last"
    tiny_act_checkpoint(robot, checkpoint / "pretrained_model")
    env = {k: v for k, v in os.environ.items() if k != "BRICOBOT_POLICY_TOKEN"}
    done = subprocess.run(
        argv(serve, f"port={free_port()}"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 1 and "set a shared token" in done.stderr
