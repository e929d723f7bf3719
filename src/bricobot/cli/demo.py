"""``bricobot demo``: the whole path in simulation, no hardware.

``mode=full`` (default): scripted demonstrations → dataset → ACT training (``act_cpu`` without a GPU)
→ evaluation over 200 unseen seeds → ``report.md``. ``mode=expert``: only the scripted expert, its
success rate with a 95 % Wilson interval and an mp4 of one episode (a one-minute smoke test).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from bricobot.cli.app import run_command
from bricobot.evaluation.demo import DemoConfig

DESCRIPTION = (
    "Run bricobot end to end in MuJoCo: record expert demos, train ACT, evaluate it with a 95 % "
    "confidence interval, and write a report (mode=full); or just measure the scripted expert and "
    "save a video (mode=expert)."
)


@dataclass
class DemoCommandConfig:
    env: Any = MISSING
    #: "full" (demos → train → eval → report) or "expert" (the scripted expert only).
    mode: str = "full"
    #: mode=expert: episodes run, with seeds seed, seed + 1, …
    episodes: int = 20
    seed: int = 0
    pipeline: DemoConfig = field(default_factory=DemoConfig)
    output_dir: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("full", "expert"):
            raise ValueError(f"mode must be 'full' or 'expert', got {self.mode!r}")
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")


def run_expert_demo(cfg: DemoCommandConfig) -> int:
    from bricobot.envs.experts import run_expert
    from bricobot.envs.metrics import wilson_interval
    from bricobot.envs.registry import ENVS
    from bricobot.envs.video import write_mp4

    task = ENVS[cfg.env.type].impl_class()(cfg.env)
    camera = cfg.env.cameras[0] if cfg.env.cameras else "front"
    seeds = list(range(cfg.seed, cfg.seed + cfg.episodes))
    run = run_expert(task, seeds, video_camera=camera, progress=True)
    n, k = len(run.successes), sum(run.successes)
    low, high = wilson_interval(k, n)
    out = Path(cfg.output_dir)
    video = write_mp4(out / "expert_episode.mp4", run.first_episode_frames, cfg.env.control_hz)
    result = {"episodes": n, "successes": k, "success_rate": k / n, "wilson95": [low, high]}
    (out / "expert_results.json").write_text(json.dumps(result, indent=2))
    print(
        f"expert success: {k}/{n} = {k / n:.1%} (95 % CI {low:.1%}–{high:.1%}); "
        f"video: {video}; results: {out / 'expert_results.json'}"
    )
    return 0


def run(cfg: DemoCommandConfig) -> int:
    if cfg.mode == "expert":
        return run_expert_demo(cfg)
    from bricobot.evaluation.demo import sim_demo

    result = sim_demo(cfg.env, cfg.output_dir, cfg.pipeline)
    print(f"report: {result.report_path}")
    return 0


def main(argv: list[str]) -> int:
    return run_command("demo", DemoCommandConfig, run, argv, DESCRIPTION)
