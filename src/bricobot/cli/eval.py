"""``bricobot eval``: evaluate a policy checkpoint in simulation with a confidence interval.

Example::

    bricobot eval policy_path=outputs/train/<time> env=so101_pick_cube eval.episodes=200

``policy_path`` takes what every command takes: a training run (its ``checkpoints/last``), a step
(``checkpoints/004000``, ``checkpoints/last``) or a ``pretrained_model`` folder.

Seeds start at ``eval.seed_start`` (1,000,000 by default, disjoint from recording seeds); the
same seed list gives the same result. Writes ``eval_info.json`` (per-episode results and the
success rate with its 95 % Wilson interval) and videos of the first episodes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.evaluation.sim_eval import EvalConfig


@dataclass
class EvalCommandConfig:
    #: A training run, a checkpoint step or a pretrained_model folder (required).
    policy_path: str = ""
    device: str = "cpu"
    env: Any = MISSING
    eval: EvalConfig = field(default_factory=EvalConfig)
    output_dir: str = ""


def run(cfg: EvalCommandConfig) -> int:
    from pathlib import Path

    from bricobot.errors import BricobotError
    from bricobot.evaluation.sim_eval import evaluate
    from bricobot.policies.checkpoint import load_policy

    if not cfg.policy_path:
        print(
            "bricobot eval: give the checkpoint: policy_path=<training run or checkpoint folder>",
            file=sys.stderr,
        )
        return 2
    try:
        policy = load_policy(cfg.policy_path, cfg.device)
        result = evaluate(policy, cfg.env, cfg.eval, Path(cfg.output_dir))
    except BricobotError as exc:
        print(f"bricobot eval: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.summary(), indent=2))
    return 0


def main(argv: Sequence[str]) -> int:
    return run_command(
        "eval", EvalCommandConfig, run, argv, "Evaluate a policy in simulation, in parallel."
    )
