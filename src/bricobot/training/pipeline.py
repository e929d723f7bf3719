"""The whole demo in simulation: scripted demonstrations → dataset → training → evaluation → report.

:func:`run_demo` records expert episodes of a simulated task into a LeRobot-format dataset (the
real dataset writer), trains ACT with the preset that suits the machine (``act_cpu`` without a
GPU, ``act`` with one), evaluates the last checkpoint over many episodes whose seeds were never
used for recording, and writes ``report.md`` with the success rate, its 95 % Wilson interval, the
loss curve, a rollout video and the commands that reproduce each stage. Every stage prints its
progress and its duration.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bricobot.envs.registry import ENVS
from bricobot.policies.checkpoint import PRETRAINED_DIR
from bricobot.policies.presets import load_preset
from bricobot.registry import load_object
from bricobot.training.config import TrainerConfig
from bricobot.training.evaluation import EvalConfig, EvalResult, env_fn_from_config, evaluate_env


@dataclass
class DemoConfig:
    """What the demo records, how long it trains and how much it evaluates."""

    #: Expert episodes to record (only successful ones are kept), with seeds demo_seed_start + i.
    num_demos: int = 150
    demo_seed_start: int = 0
    #: Policy preset; "auto" = act_cpu without a CUDA GPU, act with one.
    policy: str = "auto"
    #: Field overrides for the preset. The cameras render at ``image_size`` and the policy sees
    #: them downsampled to 64x64: video compression blurs a few-pixel cube at 64x64, and
    #: downsampling a larger frame removes most of that loss.
    policy_overrides: dict[str, Any] = field(default_factory=lambda: {"image_size": [64, 64]})
    #: Training steps; None = the preset's demo default (DEMO_STEPS).
    steps: int | None = None
    eval_episodes: int = 200
    #: Far from demo seeds, so no evaluation episode was ever demonstrated.
    eval_seed_start: int = 1_000_000
    eval_num_envs: int = 25
    videos: int = 2
    #: Dataset video codec (the recorder's default: AV1).
    codec: str = "libsvtav1"
    #: Cameras and square render size of the sim for the whole demo (recording and evaluation).
    cameras: list[str] = field(default_factory=lambda: ["front", "wrist"])
    image_size: int = 128
    #: DataLoader workers for training (None = the trainer's default).
    num_workers: int | None = None
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


class DemoSupervisor:
    """Drives the scripted expert during recording and judges each episode as a person would:
    an episode ends ``steps_after_success`` steps after the task first succeeds (kept), or is
    re-recorded when the expert never succeeded by the task's time limit. Episode ``n`` uses seed
    ``seed_start + n`` (counting discarded attempts), so no demonstration seed is ever reused."""

    def __init__(
        self, robot: Any, teleop: Any, events: Any, seed_start: int, steps_after_success: int
    ) -> None:
        self.robot, self.teleop, self.events = robot, teleop, events
        self.next_seed = seed_start
        self.steps_after_success = steps_after_success
        self.max_steps = int(robot.task.config.episode_length)
        self.failed = 0
        self._steps = self._since_success = 0
        self._succeeded = False

    def start_episode(self) -> None:
        self.robot.reset_episode(seed=self.next_seed)
        self.teleop.reset()
        self.next_seed += 1
        self._steps = self._since_success = 0
        self._succeeded = False

    def act(self, observation: dict[str, Any]) -> dict[str, float]:
        self._succeeded = self._succeeded or bool(self.robot.task.is_success())
        self._since_success += int(self._succeeded)
        self._steps += 1
        if self._since_success > self.steps_after_success:
            self.events.next_episode.set()  # this step is the episode's last; it is kept
        elif self._steps >= self.max_steps and not self._succeeded:
            self.events.rerecord.set()
            self.failed += 1
        return dict(self.teleop.get_action())


def record_demos(
    env_config: Any,
    root: Path,
    num_demos: int,
    seed_start: int,
    task: str,
    codec: str = "libsvtav1",
    progress: bool = True,
    steps_after_success: int = 10,
) -> tuple[int, int]:
    """Record ``num_demos`` successful expert episodes of ``env_config``'s task into a new video
    dataset at ``root`` with the recorder of ``bricobot record``. Returns (saved, discarded)."""
    from bricobot.robots.sim import SimRobot, SimRobotConfig
    from bricobot.runtime.clock import SimClock
    from bricobot.runtime.commands import DatasetConfig, make_teleop, open_writer
    from bricobot.runtime.events import EpisodeEvents
    from bricobot.runtime.record import RecordSettings, record_episodes

    task_config = {k: v for k, v in dataclasses.asdict(env_config).items() if k != "type"}
    robot = SimRobot(SimRobotConfig(task=env_config.type, task_config=task_config))
    teleop = make_teleop(load_object(EXPERT_TELEOPS[env_config.type])(), robot)
    hz = int(env_config.control_hz)
    episode_s = env_config.episode_length / hz
    dataset = DatasetConfig(str(root), task, num_demos, episode_s, 0.0, hz, True, codec)
    writer, events, clock = open_writer(dataset, robot), EpisodeEvents(), SimClock()
    robot.time_source = clock.now
    supervisor = DemoSupervisor(robot, teleop, events, seed_start, steps_after_success)
    settings = RecordSettings(num_demos, episode_s, 0.0, hz, task)
    bar = tqdm(total=num_demos, desc="record demos", disable=not progress, dynamic_ncols=True)

    def start() -> None:
        if supervisor.failed > num_demos:
            raise RuntimeError(
                f"the scripted expert failed {supervisor.failed} times; check the task"
            )
        bar.n = writer.num_episodes
        bar.set_postfix(discarded=supervisor.failed)
        bar.refresh()
        supervisor.start_episode()

    robot.connect()
    teleop.connect()
    try:
        result = record_episodes(
            robot, supervisor.act, writer, settings, events, on_episode_start=start, clock=clock
        )
    finally:
        writer.close()
        teleop.disconnect()
        robot.disconnect()
        bar.close()
    return result.episodes_saved, supervisor.failed


def sim_demo(env_config: Any, output_dir: str | Path, cfg: DemoConfig | None = None) -> DemoResult:
    """Record, train, evaluate and report on a bricobot sim task (``env_config``: e.g.
    ``PickCubeConfig``). The demo's cameras and image size (``DemoConfig.cameras``/``image_size``)
    replace the env config's, so recording and evaluation render the same images."""
    cfg = cfg or DemoConfig()
    env_config = dataclasses.replace(
        env_config,
        cameras=list(cfg.cameras),
        image_height=cfg.image_size,
        image_width=cfg.image_size,
    )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    stage_s: dict[str, float] = {}
    preset = choose_preset(cfg.policy)
    steps = cfg.steps or DEMO_STEPS.get(preset, 5000)
    task_text = getattr(load_object(ENVS[env_config.type].impl), "description", "")

    log(f"1/4 recording {cfg.num_demos} expert demonstrations (seeds from {cfg.demo_seed_start})")
    t0 = time.perf_counter()
    dataset_root = out / "dataset"
    saved, failed = record_demos(
        env_config,
        dataset_root,
        cfg.num_demos,
        cfg.demo_seed_start,
        task_text or env_config.type,
        cfg.codec,
        cfg.progress,
    )
    stage_s["record"] = time.perf_counter() - t0
    log(
        f"    {saved} episodes saved, {failed} expert failures discarded, {stage_s['record']:.0f} s"
    )

    log(f"2/4 training {preset} for {steps} steps")
    t0 = time.perf_counter()
    result = _train_demo_policy(cfg, preset, steps, dataset_root, out)
    stage_s["train"] = time.perf_counter() - t0
    assert result.last_checkpoint is not None
    checkpoint = result.last_checkpoint / PRETRAINED_DIR
    log(
        f"    {result.steps_per_s:.1f} steps/s, {100 * result.data_wait_share:.1f}% of each step "
        f"waiting for data, {stage_s['train']:.0f} s; checkpoint {checkpoint}"
    )

    log(f"3/4 evaluating over {cfg.eval_episodes} episodes (seeds from {cfg.eval_seed_start})")
    t0 = time.perf_counter()
    eval_result = _evaluate_demo_policy(cfg, env_config, checkpoint, out)
    stage_s["eval"] = time.perf_counter() - t0
    log(
        f"    success {100 * eval_result.success_rate:.1f}% "
        f"(95% CI {100 * eval_result.ci_low:.1f}–{100 * eval_result.ci_high:.1f}%), {stage_s['eval']:.0f} s"
    )

    log("4/4 writing the report")
    stage_s["total"] = sum(stage_s.values())
    report = write_report(
        out,
        cfg,
        preset,
        steps,
        saved,
        failed,
        result,
        eval_result,
        stage_s,
        checkpoint,
        env_config.type,
    )
    log(f"done in {stage_s['total'] / 60:.1f} min: {report}")
    return DemoResult(out, dataset_root, checkpoint, eval_result, stage_s, report, saved, failed)


def _train_demo_policy(
    cfg: DemoConfig, preset: str, steps: int, dataset_root: Path, out: Path
) -> Any:
    """Train ``preset`` on the recorded dataset through the one training data path."""
    from bricobot.training.data import DataConfig, open_training_data
    from bricobot.training.trainer import train

    policy_cfg = load_preset(preset, **cfg.policy_overrides)
    data_cfg = DataConfig(
        root=str(dataset_root),
        frame_cache=True,
        frame_cache_dir=str(out / "frame_cache"),
        num_workers=cfg.num_workers,
    )
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
    data = open_training_data(
        data_cfg, policy_cfg, trainer_cfg.val_fraction, cfg.seed, cfg.progress
    )
    return train(data, trainer_cfg, out / "train")


def _evaluate_demo_policy(
    cfg: DemoConfig, env_config: Any, checkpoint: Path, out: Path
) -> EvalResult:
    from bricobot.policies.checkpoint import load_policy

    policy = load_policy(checkpoint)
    eval_cfg = EvalConfig(
        episodes=cfg.eval_episodes,
        seed_start=cfg.eval_seed_start,
        num_envs=cfg.eval_num_envs,
        videos=cfg.videos,
        progress=cfg.progress,
    )
    return evaluate_env(
        policy,
        env_fn_from_config(env_config),
        eval_cfg,
        out / "eval",
        video_env_fn=env_fn_from_config(env_config, render=True),
    )


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
        f"bricobot eval policy_path={checkpoint} env={env_name} eval.episodes={cfg.eval_episodes} "
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


#: The config class of each sim task's scripted expert teleoperator (ENVS name → "module:Class").
EXPERT_TELEOPS: dict[str, str] = {
    "so101_pick_cube": "bricobot.teleop.scripted:ScriptedExpertConfig",
    # The other tasks: the generic teleoperator runs the expert named by the task's ENVS entry.
    **{
        name: "bricobot.teleop.sim_expert:SimExpertTeleopConfig"
        for name in (
            "so101_place_cube",
            "so101_stack_cube",
            "so101_push_t",
            "koch_pick_cube",
            "bimanual_so101_transfer_cube",
        )
    },
}
