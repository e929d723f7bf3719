"""``bricobot rollout``: run a policy checkpoint in real time on a robot, optionally recording.

The checkpoint's features are checked against the robot's before anything moves. Example::

    bricobot rollout robot=so101 robot.port=/dev/ttyACM0 \
        policy_path=outputs/train/<time>/checkpoints/last \
        num_episodes=2 episode_time_s=20 dataset.root=data/eval_pick

``policy_path`` takes what every command takes: a training run (its ``checkpoints/last``), a step
(``checkpoints/004000``, ``checkpoints/last``) or a ``pretrained_model`` folder.

With ``remote=HOST:PORT`` the policy runs on another machine (``bricobot serve-policy`` there) and
``policy_path`` is not needed: the loop runs here, executing one chunk while the next is computed;
the token comes from ``remote_token`` or the ``BRICOBOT_POLICY_TOKEN`` environment variable.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.remote.config import TOKEN_ENV, RemoteClientConfig, RemoteOptions
from bricobot.runtime.shutdown import exit_code
from bricobot.runtime.timing import format_runs, save_timing


@dataclass
class RolloutCommandConfig:
    robot: Any = MISSING
    #: A training run, a checkpoint step or a pretrained_model folder (required).
    policy_path: str = ""
    num_episodes: int = 1
    episode_time_s: float = 30.0
    reset_time_s: float = 5.0
    fps: int = 30
    device: str = "cpu"
    #: Set dataset.root to record the rollouts (dataset.fps follows fps).
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    keyboard: bool = True
    #: A live status line on stderr: episode n/N with its elapsed and remaining time.
    progress: bool = True
    #: config.yaml and loop_timing.json (per-episode stage timing) go here; "" = outputs/rollout/<time>.
    output_dir: str = ""
    #: HOST:PORT of `bricobot serve-policy` on another machine; "" runs policy_path here.
    remote: str = ""
    #: The server's shared token; "" reads BRICOBOT_POLICY_TOKEN (kept out of config.yaml).
    remote_token: str = ""
    #: Stop the rollout after this long without a fresh action from the server (s).
    remote_outage_s: float = 10.0
    #: Image encoding, action age bound, blending, timeouts of the remote policy.
    remote_options: RemoteOptions = field(default_factory=RemoteOptions)


def run(cfg: RolloutCommandConfig) -> int:
    from bricobot.runtime.rollout import describe_rollout, run_rollout

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress and timing lines

    if not cfg.policy_path and not cfg.remote:
        print(
            "bricobot rollout: give the checkpoint: policy_path=<training run or checkpoint folder>"
            " (or remote=HOST:PORT of a `bricobot serve-policy`)",
            file=sys.stderr,
        )
        return 2
    if cfg.policy_path and cfg.remote:
        print(
            "bricobot rollout: give policy_path= (the policy runs here) or remote=HOST:PORT (it "
            "runs on the server, which has its checkpoint), not both",
            file=sys.stderr,
        )
        return 2
    try:
        factory = remote_source_factory(cfg) if cfg.remote else None
    except ValueError as exc:
        print(f"bricobot rollout: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_rollout(
            cfg.robot,
            cfg.policy_path,
            num_episodes=cfg.num_episodes,
            episode_time_s=cfg.episode_time_s,
            reset_time_s=cfg.reset_time_s,
            fps=cfg.fps,
            dataset=cfg.dataset,
            device=cfg.device,
            keyboard=cfg.keyboard,
            progress=cfg.progress,
            source_factory=factory,
        )
    except Exception as exc:
        print(f"bricobot rollout: stopped: {exc}", file=sys.stderr)
        return 1
    save_timing(cfg.output_dir, result.timing)
    print(format_runs(result.timing))
    if cfg.remote:
        print(format_remote(result.timing))
    print(describe_rollout(result, cfg.dataset.root))
    return exit_code(result.reason)


def remote_source_factory(cfg: RolloutCommandConfig) -> Callable[[Any], Any]:
    """Builds the remote policy source for the robot and shakes hands (before the robot connects)."""
    config = RemoteClientConfig(
        address=cfg.remote,
        token=cfg.remote_token or os.environ.get(TOKEN_ENV, ""),
        outage_s=cfg.remote_outage_s,
        options=cfg.remote_options,
    )

    def make(robot: Any) -> Any:
        from bricobot.runtime.remote.client import RemotePolicySource

        source = RemotePolicySource(config, robot, fps=cfg.fps)
        source.connect()
        return source

    return make


def format_remote(timing: list[dict[str, Any]]) -> str:
    """One line over every episode: steps without a fresh action, worst action age and round trip."""
    episodes = [t["action_source"] for t in timing if "action_source" in t]
    if not episodes:
        return "remote policy: no steps ran"
    steps = sum(e["steps"] for e in episodes)
    held = sum(e["steps_without_fresh_action"] for e in episodes)
    age = max(e["action_age_ms"]["p99"] for e in episodes)
    rtt = max(e["round_trip_ms"]["p90"] for e in episodes)
    return (
        f"remote policy over {len(episodes)} episode(s): {held} of {steps} steps without a fresh "
        f"action (the arm held its goal); action age p99 {age:.0f} ms; round trip p90 {rtt:.0f} ms"
    )


def main(argv: Sequence[str]) -> int:
    return run_command(
        "rollout",
        RolloutCommandConfig,
        run,
        argv,
        "Run a policy checkpoint in real time on a robot.",
    )
