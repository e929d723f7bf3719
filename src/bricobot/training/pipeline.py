"""The whole demo in simulation: scripted demonstrations → dataset → training → evaluation → report.

:func:`run_demo` records expert episodes of a simulated task into a LeRobot-format dataset (the
real dataset writer), trains ACT with the preset that suits the machine (``act_cpu`` without a
GPU, ``act`` with one), evaluates the last checkpoint over many episodes whose seeds were never
used for recording, and writes ``report.md`` with the success rate, its 95 % Wilson interval, the
loss curve, a rollout video and the commands that reproduce each stage. Every stage prints its
progress and its duration.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from bricobot.envs.registry import ENVS
from bricobot.policies.base import ACTION_KEY, STATE_KEY, is_image_feature
from bricobot.policies.presets import load_preset
from bricobot.registry import load_object
from bricobot.training.config import TrainerConfig
from bricobot.training.evaluation import (
    EvalConfig,
    EvalResult,
    env_features,
    env_fn_from_config,
    evaluate_env,
)

EnvFn = Callable[[], gym.Env]


class Expert(Protocol):
    """A scripted expert bound to one env: ``reset()`` at each episode start, ``act()`` per step."""

    def reset(self) -> None: ...

    def act(self) -> np.ndarray: ...


#: Builds the expert for an (unwrapped) env.
ExpertFactory = Callable[[gym.Env], Expert]


@dataclass
class DemoConfig:
    """What the demo records, how long it trains and how much it evaluates."""

    #: Expert episodes to record (only successful ones are kept), with seeds demo_seed_start + i.
    num_demos: int = 150
    demo_seed_start: int = 0
    #: Policy preset; "auto" = act_cpu without a CUDA GPU, act with one.
    policy: str = "auto"
    #: Field overrides for the preset (e.g. {"chunk_size": 10}).
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    #: Training steps; None = the preset's demo default (DEMO_STEPS).
    steps: int | None = None
    eval_episodes: int = 200
    #: Far from demo seeds, so no evaluation episode was ever demonstrated.
    eval_seed_start: int = 1_000_000
    eval_num_envs: int = 25
    videos: int = 2
    #: Store camera frames as lossless PNG (false) or as video (true). Lossy yuv420p video blurs a
    #: few-pixel cube at small image sizes, and evaluation sees raw renders: PNG avoids that gap.
    use_videos: bool = False
    #: Dataset video codec (PyAV) when use_videos is true.
    codec: str = "libx264"
    #: Cameras and square image size of the sim env for the whole demo (sim_demo applies them).
    cameras: list[str] = field(default_factory=lambda: ["front", "wrist"])
    image_size: int = 64
    seed: int = 1000
    device: str = "auto"
    num_threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.num_demos < 2:
            raise ValueError("num_demos must be >= 2 (one episode is held out for validation)")
        if self.eval_seed_start < self.demo_seed_start + self.num_demos * 4:
            raise ValueError(
                "eval_seed_start must be well above the demo seeds (demo_seed_start + num_demos)"
            )


#: Training steps used by the demo for each preset when DemoConfig.steps is None.
DEMO_STEPS = {"act_cpu": 4000, "act": 20_000, "diffusion_cpu": 4000, "diffusion": 50_000}


@dataclass
class DemoResult:
    output_dir: Path
    dataset_root: Path
    checkpoint: Path
    eval: EvalResult
    stage_s: dict[str, float]
    report_path: Path
    demos_recorded: int
    demos_failed: int


def log(message: str) -> None:
    print(f"[bricobot demo] {message}", file=sys.stderr, flush=True)


def choose_preset(name: str) -> str:
    if name != "auto":
        return name
    return "act" if torch.cuda.is_available() else "act_cpu"


def record_demos(
    env_fn: EnvFn,
    make_expert: ExpertFactory,
    root: Path,
    num_demos: int,
    seed_start: int,
    fps: int,
    task: str,
    codec: str = "libx264",
    progress: bool = True,
    use_videos: bool = False,
    steps_after_success: int = 10,
) -> tuple[int, int]:
    """Record ``num_demos`` successful expert episodes into a new dataset at ``root``.

    Seeds ``seed_start, seed_start + 1, …`` are tried in order; an episode where the expert
    fails is discarded (and counted). An episode ends ``steps_after_success`` steps after the
    task first reports success (or at the env's time limit). Returns (saved, failed).
    """
    from bricobot.datasets.writer import DatasetWriter

    env = env_fn()
    expert = make_expert(env.unwrapped)
    features = _dataset_features(env)
    saved = failed = 0
    seed = seed_start
    bar = tqdm(total=num_demos, desc="record demos", disable=not progress, dynamic_ncols=True)
    with DatasetWriter.create(
        root, fps=fps, features=features, robot_type="so101_sim", codec=codec, use_videos=use_videos
    ) as writer:
        while saved < num_demos:
            if failed > num_demos:
                raise RuntimeError(
                    f"the scripted expert failed {failed} times for {saved} successes; check the task"
                )
            obs, info = env.reset(seed=seed)
            expert.reset()
            seed += 1
            success = bool(info.get("is_success", False))
            done = False
            since_success = 0
            while not done:
                action = np.asarray(expert.act(), np.float32)
                writer.add_frame(_frame(obs, action, features), task=task)
                obs, _, terminated, truncated, info = env.step(action)
                success = success or bool(info.get("is_success", False))
                since_success += int(success)
                done = terminated or truncated or since_success > steps_after_success
            if success:
                writer.save_episode()
                saved += 1
                bar.update(1)
            else:
                writer.discard_episode()
                failed += 1
            bar.set_postfix(failed=failed)
    bar.close()
    env.close()
    return saved, failed


def _dataset_features(env: gym.Env) -> dict[str, dict[str, Any]]:
    """LeRobot feature dict of the env's state, action and cameras."""
    declared = env_features(env)
    if declared is None:
        raise TypeError("the demo env must declare its features (a bricobot task env does)")
    out: dict[str, dict[str, Any]] = {}
    for key, feat in declared.items():
        shape, names = list(feat.shape), list(feat.names)
        if key in (STATE_KEY, ACTION_KEY):
            out[key] = {"dtype": "float32", "shape": tuple(shape), "names": names}
        elif is_image_feature(key):
            out[key] = {
                "dtype": "video",
                "shape": tuple(shape),
                "names": ["height", "width", "channels"],
            }
    return out


def _frame(obs: dict[str, Any], action: np.ndarray, features: dict[str, Any]) -> dict[str, Any]:
    frame: dict[str, Any] = {ACTION_KEY: action}
    for key in features:
        if key != ACTION_KEY:
            frame[key] = np.asarray(obs[key])
    return frame


def run_demo(
    env_fn: EnvFn,
    make_expert: ExpertFactory,
    output_dir: str | Path,
    cfg: DemoConfig | None = None,
    *,
    render_env_fn: EnvFn | None = None,
    fps: int = 30,
    task: str = "pick up the cube",
    env_name: str = "so101_pick_cube",
) -> DemoResult:
    """Record, train, evaluate and report. ``env_fn`` builds the task env (observations keyed by
    feature name, ``info["is_success"]``); ``make_expert(env)`` builds the scripted expert;
    ``render_env_fn`` builds envs that render frames for the videos."""
    from bricobot.training.dataset_source import load_episode_data
    from bricobot.training.trainer import train

    cfg = cfg or DemoConfig()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    stage_s: dict[str, float] = {}
    preset = choose_preset(cfg.policy)
    steps = cfg.steps or DEMO_STEPS.get(preset, 5000)

    log(f"1/4 recording {cfg.num_demos} expert demonstrations (seeds from {cfg.demo_seed_start})")
    t0 = time.perf_counter()
    dataset_root = out / "dataset"
    saved, failed = record_demos(
        env_fn,
        make_expert,
        dataset_root,
        cfg.num_demos,
        cfg.demo_seed_start,
        fps,
        task,
        cfg.codec,
        cfg.progress,
        cfg.use_videos,
    )
    stage_s["record"] = time.perf_counter() - t0
    log(
        f"    {saved} episodes saved, {failed} expert failures discarded, {stage_s['record']:.0f} s"
    )

    log(f"2/4 training {preset} for {steps} steps")
    t0 = time.perf_counter()
    policy_cfg = load_preset(preset, **cfg.policy_overrides)
    data = load_episode_data(dataset_root, policy_cfg.cameras or None, progress=cfg.progress)
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
    train_dir = out / "train"
    result = train(policy_cfg, data, trainer_cfg, train_dir)
    del data
    stage_s["train"] = time.perf_counter() - t0
    assert result.last_checkpoint is not None
    checkpoint = result.last_checkpoint / "pretrained_model"
    log(
        f"    {result.steps_per_s:.1f} steps/s, {100 * result.data_wait_share:.1f}% of each step "
        f"waiting for data, {stage_s['train']:.0f} s; checkpoint {checkpoint}"
    )

    log(f"3/4 evaluating over {cfg.eval_episodes} episodes (seeds from {cfg.eval_seed_start})")
    t0 = time.perf_counter()
    from bricobot.policies.checkpoint import load_policy

    policy = load_policy(checkpoint)
    eval_cfg = EvalConfig(
        episodes=cfg.eval_episodes,
        seed_start=cfg.eval_seed_start,
        num_envs=cfg.eval_num_envs,
        videos=cfg.videos,
        progress=cfg.progress,
    )
    eval_result = evaluate_env(policy, env_fn, eval_cfg, out / "eval", video_env_fn=render_env_fn)
    stage_s["eval"] = time.perf_counter() - t0
    log(
        f"    success {100 * eval_result.success_rate:.1f}% "
        f"(95% CI {100 * eval_result.ci_low:.1f}–{100 * eval_result.ci_high:.1f}%), {stage_s['eval']:.0f} s"
    )

    log("4/4 writing the report")
    stage_s["total"] = sum(stage_s.values())
    report = write_report(
        out, cfg, preset, steps, saved, failed, result, eval_result, stage_s, checkpoint, env_name
    )
    log(f"done in {stage_s['total'] / 60:.1f} min: {report}")
    return DemoResult(out, dataset_root, checkpoint, eval_result, stage_s, report, saved, failed)


def write_report(
    out: Path,
    cfg: DemoConfig,
    preset: str,
    steps: int,
    saved: int,
    failed: int,
    train_result: Any,
    eval_result: EvalResult,
    stage_s: dict[str, float],
    checkpoint: Path,
    env_name: str,
) -> Path:
    """``report.md`` (and ``report.json``) in ``out``: figures, artefacts and reproduce commands."""
    s = eval_result.summary()
    rel = lambda p: Path(p).resolve().relative_to(out.resolve()) if p else None  # noqa: E731
    video = rel(eval_result.video_paths[0]) if eval_result.video_paths else None
    plot = rel(train_result.plot_path) if train_result.plot_path else None
    lines = [
        "# bricobot demo report",
        "",
        f"**Success rate: {100 * eval_result.success_rate:.1f} %** "
        f"({s['successes']}/{s['episodes']} episodes, 95 % Wilson interval "
        f"{100 * eval_result.ci_low:.1f}–{100 * eval_result.ci_high:.1f} %), evaluation seeds "
        f"{cfg.eval_seed_start}…{cfg.eval_seed_start + cfg.eval_episodes - 1}; demonstration seeds "
        f"start at {cfg.demo_seed_start} ({saved} kept, {failed} expert failures discarded).",
        "",
        "| stage | time |",
        "|---|---|",
        *(f"| {k} | {v / 60:.1f} min ({v:.0f} s) |" for k, v in stage_s.items()),
        "",
        f"- Policy: `{preset}`, {steps} steps, {train_result.steps_per_s:.1f} steps/s, "
        f"{100 * train_result.data_wait_share:.1f} % of step time waiting for data.",
        f"- Final validation loss: {train_result.val_losses[-1][1]:.4f}"
        if train_result.val_losses
        else "- No validation split.",
        f"- Checkpoint: `{rel(checkpoint)}`",
        f"- Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {'CUDA' if torch.cuda.is_available() else 'no GPU'}.",
        "",
    ]
    if plot:
        lines += ["## Loss curves", "", f"![loss curves]({plot})", ""]
    if video:
        lines += ["## Rollout", "", f"[first evaluation episode]({video})", ""]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        f"bricobot demo  # this whole run (output in {out})",
        "# or stage by stage:",
        f"bricobot train policy={preset} dataset.root={out / 'dataset'} trainer.steps={steps} "
        f"trainer.seed={cfg.seed}",
        f"bricobot eval policy.path={checkpoint} env={env_name} eval.episodes={cfg.eval_episodes} "
        f"eval.seed_start={cfg.eval_seed_start}",
        "```",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    (out / "report.json").write_text(
        json.dumps(
            {
                "eval": s,
                "stage_s": stage_s,
                "preset": preset,
                "steps": steps,
                "demos": saved,
                "expert_failures": failed,
                "config": asdict(cfg),
            },
            indent=1,
            default=str,
        )
        + "\n"
    )
    return path


def sim_demo(env_config: Any, output_dir: str | Path, cfg: DemoConfig | None = None) -> DemoResult:
    """:func:`run_demo` on a bricobot sim task (``env_config``: e.g. ``PickCubeConfig``) with its
    scripted expert. The demo's cameras and image size (``DemoConfig.cameras``/``image_size``)
    replace the env config's, so recording, training and evaluation all see the same images."""
    import dataclasses

    cfg = cfg or DemoConfig()
    env_config = dataclasses.replace(
        env_config,
        cameras=list(cfg.cameras),
        image_height=cfg.image_size,
        image_width=cfg.image_size,
    )
    expert_factory = load_object(EXPERTS[env_config.type])
    task_text = getattr(load_object(ENVS[env_config.type].impl), "description", "")
    return run_demo(
        env_fn_from_config(env_config),
        lambda env: expert_factory(env.task),  # type: ignore[attr-defined]  # a TaskEnv
        output_dir,
        cfg,
        render_env_fn=env_fn_from_config(env_config, render=True),
        fps=int(env_config.control_hz),
        task=task_text or env_config.type,
        env_name=env_config.type,
    )


#: Scripted expert class of each sim task (ENVS name → "module:Class"), built as ``Expert(task)``.
EXPERTS: dict[str, str] = {"so101_pick_cube": "bricobot.envs.experts:PickCubeExpert"}
