"""The simulation benchmark suite: for each task, expert demos → a trained policy → evaluation.

For every task of the ENVS registry (or ``--tasks``): record ``--demos`` successful episodes of the
task's scripted expert (``bricobot.evaluation.demo.record_demos``, the recorder of ``bricobot
record``), train a policy preset on them (the one trainer, with periodic checkpoints), evaluate the
last checkpoint over ``--eval-episodes`` held-out seeds (``bricobot.evaluation.sim_eval``), and add a
row to one table, ``benchmark.md`` + ``benchmark.json`` in ``--out``: task, policy, demos, training
steps, success with its 95 % Wilson interval, wall time per stage, machine.

It resumes where it stopped. Each task has its folder ``<out>/<task>/``: a finished row
(``row.json``) is skipped; a complete dataset and an evaluation that already ran are reused; a
training run continues from its last checkpoint. Use a new ``--out`` for different settings.
The env config (the randomization settings included) is saved in the dataset's ``meta/info.json``
under ``bricobot_sim``.

    python scripts/benchmark_suite.py --out outputs/benchmark            # every task, full size
    python scripts/benchmark_suite.py --out /tmp/bench --tasks so101_pick_cube --demos 2 \\
        --steps 2 --eval-episodes 2 --image-size 32 --cameras front       # a smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bricobot.datasets.files import atomic_write_bytes, atomic_write_json
from bricobot.envs.registration import GYM_IDS
from bricobot.envs.registry import ENVS
from bricobot.evaluation.demo import DEMO_STEPS, choose_preset, record_demos
from bricobot.loading import from_dict, to_dict
from bricobot.policies.checkpoint import PRETRAINED_DIR

#: Seeds: demonstrations from DEMO_SEED_START, evaluation far away (never demonstrated).
DEMO_SEED_START = 0
EVAL_SEED_START = 1_000_000


@dataclass
class SuiteConfig:
    """What the suite runs; see ``--help``."""

    out: Path
    tasks: list[str] = field(default_factory=lambda: sorted(ENVS))
    #: Policy preset; "auto" = act_cpu without a CUDA GPU, act with one.
    policy: str = "auto"
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    demos: int = 100
    #: Training steps; None = the preset's demo default (DEMO_STEPS).
    steps: int | None = None
    eval_episodes: int = 200
    eval_num_envs: int = 25
    #: Videos of the first evaluation episodes (mp4 in <task>/eval/videos).
    eval_videos: int = 1
    image_size: int = 96
    #: Cameras rendered for recording and evaluation; None = each task's default.
    cameras: list[str] | None = None
    randomize: bool = False
    codec: str = "libsvtav1"
    device: str = "auto"
    num_workers: int | None = None
    #: CPU math threads for training; None = the CPUs idle when training starts. Set it when
    #: several suites share a machine (two suites on 2 cores: 1 each).
    num_threads: int | None = None
    seed: int = 1000
    progress: bool = True


def log(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def env_config_for(task: str, cfg: SuiteConfig) -> Any:
    """The task's config at the suite's image size, cameras and randomization."""
    overrides: dict[str, Any] = {
        "type": task,
        "image_height": cfg.image_size,
        "image_width": cfg.image_size,
        "randomize": cfg.randomize,
    }
    if cfg.cameras is not None:
        overrides["cameras"] = list(cfg.cameras)
    return from_dict(ENVS[task].config_class(), overrides)


def gym_id_of(task: str, randomize: bool) -> str:
    return next(i for i, g in GYM_IDS.items() if g.task == task and bool(g.overrides) == randomize)


# ---- stages --------------------------------------------------------------------------------------


def record_stage(task_dir: Path, env_config: Any, cfg: SuiteConfig) -> dict[str, Any]:
    """Expert demonstrations in ``<task_dir>/dataset`` (reused when complete)."""
    from bricobot.datasets.metadata import DatasetMeta

    root = task_dir / "dataset"
    if (root / "meta" / "info.json").is_file():
        episodes = DatasetMeta.load(root).total_episodes
        if episodes >= cfg.demos:
            log(f"    reusing {root} ({episodes} episodes)")
            return {"demos": episodes, "reused": True}
        log(f"    {root} has {episodes}/{cfg.demos} episodes: recording it again")
        shutil.rmtree(root)
    text = getattr(ENVS[env_config.type].impl_class(), "description", env_config.type)
    saved, failed = record_demos(
        env_config, root, cfg.demos, DEMO_SEED_START, text, cfg.codec, cfg.progress
    )
    stamp_dataset_info(root, env_config)
    return {"demos": saved, "discarded": failed}


def stamp_dataset_info(root: Path, env_config: Any) -> None:
    """Save the env config (randomization included) in the dataset's ``meta/info.json``, with an
    atomic replace so the dataset is never left unreadable."""
    path = root / "meta" / "info.json"
    info = json.loads(path.read_text())
    info["bricobot_sim"] = {
        "task": env_config.type,
        "gym_id": gym_id_of(env_config.type, env_config.randomize),
        "env_config": to_dict(env_config),
    }
    atomic_write_json(path, info)


def train_stage(task_dir: Path, cfg: SuiteConfig, preset: str, steps: int) -> dict[str, Any]:
    """Train ``preset`` on the task's dataset; continues from its last checkpoint if there is one."""
    from bricobot.policies.presets import load_preset
    from bricobot.training.config import TrainerConfig
    from bricobot.training.data import DataConfig, open_training_data
    from bricobot.training.trainer import train

    last = task_dir / "train" / "checkpoints" / "last"
    done = int(last.resolve().name) if last.is_symlink() else 0
    if done >= steps:
        log(f"    reusing the checkpoint at step {done}")
        return {"checkpoint": str(last.resolve() / PRETRAINED_DIR), "steps": done, "reused": True}
    trainer_cfg = TrainerConfig(
        steps=steps,
        seed=cfg.seed,
        device=cfg.device,
        val_fraction=0.05,
        val_every=max(1, steps // 10),
        save_every=steps,
        log_every=max(1, steps // 100),
        progress=cfg.progress,
        num_threads=cfg.num_threads,
    )
    data_cfg = DataConfig(
        root=str(task_dir / "dataset"),
        frame_cache=True,
        frame_cache_dir=str(task_dir / "frame_cache"),
        num_workers=cfg.num_workers,
    )
    policy_cfg = load_preset(preset, **cfg.policy_overrides)
    data = open_training_data(data_cfg, policy_cfg, trainer_cfg.val_fraction, cfg.seed, False)
    resume = last if done else None
    result = train(data, trainer_cfg, task_dir / "train", resume_from=resume)
    assert result.last_checkpoint is not None
    return {
        "checkpoint": str(result.last_checkpoint / PRETRAINED_DIR),
        "steps": result.step,
        "steps_per_s": result.steps_per_s,
        "resumed": resume is not None,
    }


def eval_stage(
    task_dir: Path, env_config: Any, checkpoint: str, cfg: SuiteConfig
) -> dict[str, Any]:
    """Evaluate the checkpoint over held-out seeds (reused if this evaluation already ran)."""
    from bricobot.evaluation.sim_eval import EvalConfig, env_fn_from_config, evaluate_env
    from bricobot.policies.checkpoint import load_policy

    info_path = task_dir / "eval" / "eval_info.json"
    evaluated = task_dir / "eval" / "checkpoint.txt"  # which checkpoint eval_info.json is about
    if info_path.is_file() and evaluated.is_file() and evaluated.read_text() == checkpoint:
        summary: dict[str, Any] = json.loads(info_path.read_text())["summary"]
        if summary["episodes"] == cfg.eval_episodes:
            log(f"    reusing {info_path}")
            return {**summary, "reused": True}
    eval_cfg = EvalConfig(
        episodes=cfg.eval_episodes,
        seed_start=EVAL_SEED_START,
        num_envs=min(cfg.eval_num_envs, cfg.eval_episodes),
        videos=cfg.eval_videos,
        progress=cfg.progress,
    )
    result = evaluate_env(
        load_policy(checkpoint),
        env_fn_from_config(env_config),
        eval_cfg,
        task_dir / "eval",
        video_env_fn=env_fn_from_config(env_config, render=True),
    )
    evaluated.write_text(checkpoint)
    return result.summary()


# ---- one row -------------------------------------------------------------------------------------


class StageClock:
    """Wall time of each stage, kept in ``<task_dir>/stages.json`` so a resumed run keeps the
    time its reused stages took."""

    def __init__(self, task_dir: Path) -> None:
        self.path = task_dir / "stages.json"
        self.stages: dict[str, Any] = (
            json.loads(self.path.read_text()) if self.path.is_file() else {}
        )

    def run(self, name: str, fn: Any, *args: Any) -> dict[str, Any]:
        start = time.perf_counter()
        out: dict[str, Any] = fn(*args)
        fresh_s = time.perf_counter() - start
        previous = self.stages.get(name, {})
        if out.pop("reused", False):
            out["wall_s"] = previous.get("wall_s", fresh_s)
        elif out.pop("resumed", False):
            out["wall_s"] = previous.get("wall_s", 0.0) + fresh_s
        else:
            out["wall_s"] = fresh_s
        self.stages[name] = {**previous, **out}
        self.path.write_text(json.dumps(self.stages, indent=1) + "\n")
        return self.stages[name]


def run_task(task: str, cfg: SuiteConfig, machine: dict[str, Any]) -> dict[str, Any]:
    """Record, train and evaluate one task; returns (and saves) its row."""
    task_dir = cfg.out / task
    row_path = task_dir / "row.json"
    if row_path.is_file():
        log(f"{task}: finished earlier, skipped ({row_path})")
        row: dict[str, Any] = json.loads(row_path.read_text())
        return row
    task_dir.mkdir(parents=True, exist_ok=True)
    env_config = env_config_for(task, cfg)
    preset = choose_preset(cfg.policy)
    steps = cfg.steps or DEMO_STEPS.get(preset, 5000)
    clock = StageClock(task_dir)
    log(f"{task}: 1/3 recording {cfg.demos} expert demonstrations")
    demos = clock.run("record", record_stage, task_dir, env_config, cfg)
    log(f"{task}: 2/3 training {preset} for {steps} steps")
    trained = clock.run("train", train_stage, task_dir, cfg, preset, steps)
    log(f"{task}: 3/3 evaluating over {cfg.eval_episodes} held-out seeds")
    summary = clock.run("eval", eval_stage, task_dir, env_config, trained["checkpoint"], cfg)
    row = {
        "task": task,
        "gym_id": gym_id_of(task, cfg.randomize),
        "policy": preset,
        "demos": demos["demos"],
        "steps": trained["steps"],
        "episodes": summary["episodes"],
        "successes": summary["successes"],
        "success_rate": summary["success_rate"],
        "ci95_wilson": summary["ci95_wilson"],
        "eval_seed_start": EVAL_SEED_START,
        "wall_s": {name: round(s["wall_s"], 1) for name, s in clock.stages.items()},
        "machine": machine,
    }
    row_path.write_text(json.dumps(row, indent=1) + "\n")
    return row


# ---- the table -----------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": f"{platform.machine()}, {os.cpu_count()} cores",
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def write_table(out: Path, rows: list[dict[str, Any]], cfg: SuiteConfig) -> Path:
    """``benchmark.md`` and ``benchmark.json`` in ``out``; returns the Markdown path."""
    lines = [
        "# bricobot simulation benchmark",
        "",
        "| task | policy | demos | steps | success (95 % Wilson CI) | wall time | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["ci95_wilson"]
        minutes = sum(r["wall_s"].values()) / 60
        stages = ", ".join(f"{k} {v / 60:.1f}" for k, v in r["wall_s"].items())
        m = r["machine"]
        lines.append(
            f"| `{r['gym_id']}` | {r['policy']} | {r['demos']} | {r['steps']} | "
            f"{100 * r['success_rate']:.1f} % ({100 * low:.1f}–{100 * high:.1f}), "
            f"{r['successes']}/{r['episodes']} | {minutes:.1f} min ({stages}) | "
            f"{m['cpu']}, {m['gpu'] or 'no GPU'} |"
        )
    lines += ["", f"Evaluation seeds start at {EVAL_SEED_START}; demos at {DEMO_SEED_START}.", ""]
    path = out / "benchmark.md"
    atomic_write_bytes(path, "\n".join(lines).encode())  # two suites may share ``out``
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()}
    atomic_write_json(out / "benchmark.json", {"settings": settings, "rows": rows})
    return path


def finished_rows(out: Path) -> list[dict[str, Any]]:
    """Every finished row in ``out`` (this run's tasks and those of earlier runs with other
    ``--tasks``), in task order."""
    rows = []
    for task in sorted(ENVS):
        row_path = out / task / "row.json"
        if row_path.is_file():
            rows.append(json.loads(row_path.read_text()))
    return rows


def run_suite(cfg: SuiteConfig) -> Path:
    """Every task of ``cfg`` in turn (finished ones skipped); after each row, the table of every
    finished row in ``cfg.out``."""
    unknown = sorted(set(cfg.tasks) - set(ENVS))
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; tasks: {', '.join(sorted(ENVS))}")
    cfg.out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    path = cfg.out / "benchmark.md"
    for task in cfg.tasks:
        run_task(task, cfg, machine)
        path = write_table(cfg.out, finished_rows(cfg.out), cfg)
    log(f"table: {path}")
    return path


def parse_args(argv: list[str] | None = None) -> SuiteConfig:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    parser.add_argument("--tasks", help="comma-separated ENVS names (default: all)")
    parser.add_argument("--policy", default="auto", help="policy preset (act, act_cpu, …)")
    parser.add_argument(
        "--policy-overrides", default="{}", help="JSON field overrides, e.g. '{\"dim_model\": 64}'"
    )
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--eval-num-envs", type=int, default=25)
    parser.add_argument("--eval-videos", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--cameras", help="comma-separated camera names (default: each task's)")
    parser.add_argument("--randomize", action="store_true", help="the randomized variants")
    parser.add_argument("--codec", default="libsvtav1")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--num-workers", type=int)
    parser.add_argument(
        "--num-threads", type=int, help="CPU training threads (default: the idle CPUs)"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    return SuiteConfig(
        out=args.out,
        tasks=args.tasks.split(",") if args.tasks else sorted(ENVS),
        policy=args.policy,
        policy_overrides=json.loads(args.policy_overrides),
        demos=args.demos,
        steps=args.steps,
        eval_episodes=args.eval_episodes,
        eval_num_envs=args.eval_num_envs,
        eval_videos=args.eval_videos,
        image_size=args.image_size,
        cameras=args.cameras.split(",") if args.cameras else None,
        randomize=args.randomize,
        codec=args.codec,
        device=args.device,
        num_workers=args.num_workers,
        num_threads=args.num_threads,
        progress=not args.no_progress,
    )


if __name__ == "__main__":
    run_suite(parse_args())
