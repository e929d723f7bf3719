"""``bricobot record``: a teleoperator drives a robot and the episodes go to a dataset.

Example (virtual or real arms; keys: → next episode, ← re-record, Esc stop; Ctrl-C discards the
episode in progress and exits with status 130)::

    bricobot record robot=so101 robot.port=/dev/ttyACM0 teleop=so101_leader \
        teleop.port=/dev/ttyACM1 dataset.root=data/pick dataset.num_episodes=3 \
        dataset.task="pick the cube"
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.runtime.commands import DatasetConfig
from bricobot.runtime.shutdown import exit_code
from bricobot.runtime.timing import format_runs, save_timing


@dataclass
class RecordCommandConfig:
    robot: Any = MISSING
    teleop: Any = MISSING
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    #: Episode keys from the terminal (next / re-record / stop); off without a terminal anyway.
    keyboard: bool = True
    #: Print the joint commands a few times per second (off the control thread).
    display: bool = False
    #: A live status line on stderr: episode n/N, elapsed and remaining time, the reset period.
    progress: bool = True
    #: SCHED_FIFO priority (1-99) for the control thread on Linux (needs `ulimit -r` or
    #: CAP_SYS_NICE); null = normal scheduling.
    realtime_priority: int | None = None
    #: config.yaml and loop_timing.json (per-episode stage timing) go here; "" = outputs/record/<time>.
    output_dir: str = ""


def run(cfg: RecordCommandConfig) -> int:
    from bricobot.runtime.record import describe_record, run_record

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress and timing lines

    try:
        result = run_record(
            cfg.robot,
            cfg.teleop,
            cfg.dataset,
            cfg.keyboard,
            cfg.display,
            cfg.realtime_priority,
            progress=cfg.progress,
        )
    except Exception as exc:
        print(f"bricobot record: stopped: {exc}", file=sys.stderr)
        return 1
    save_timing(cfg.output_dir, result.timing)
    print(format_runs(result.timing))
    print(describe_record(result, cfg.dataset.root))
    return exit_code(result.reason)


def main(argv: Sequence[str]) -> int:
    return run_command(
        "record",
        RecordCommandConfig,
        run,
        argv,
        "Drive a robot with a teleoperator and record episodes.",
    )
