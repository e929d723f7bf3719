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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bricobot.envs.registry import ENVS
from bricobot.evaluation.report import DemoRun, log, write_report
from bricobot.evaluation.sim_eval import EvalConfig, EvalResult, env_fn_from_config, evaluate_env
from bricobot.policies.checkpoint import PRETRAINED_DIR
from bricobot.policies.presets import load_preset
from bricobot.registry import load_object
from bricobot.training.config import TrainerConfig


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
    from bricobot.teleop.sim_expert import SimExpertTeleopConfig

    task_config = {k: v for k, v in dataclasses.asdict(env_config).items() if k != "type"}
    robot = SimRobot(SimRobotConfig(task=env_config.type, task_config=task_config))
    teleop = make_teleop(SimExpertTeleopConfig(task=env_config.type), robot)
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
    preset = choose_preset(cfg.policy)
    run = DemoRun(out, cfg, preset, cfg.steps or DEMO_STEPS.get(preset, 5000), env_config.type)
    dataset_root = out / "dataset"
    with run.stage(
        "record",
        f"1/4 recording {cfg.num_demos} expert demonstrations (seeds from {cfg.demo_seed_start})",
    ):
        task_text = getattr(load_object(ENVS[env_config.type].impl), "description", "")
        run.saved, run.failed = record_demos(
            env_config, dataset_root, cfg.num_demos, cfg.demo_seed_start,
            task_text or env_config.type, cfg.codec, cfg.progress,
        )  # fmt: skip
    log(f"    {run.saved} episodes saved, {run.failed} expert failures discarded")
    with run.stage("train", f"2/4 training {preset} for {run.steps} steps"):
        run.train_result = _train_demo_policy(cfg, preset, run.steps, dataset_root, out)
    assert run.train_result.last_checkpoint is not None
    run.checkpoint = run.train_result.last_checkpoint / PRETRAINED_DIR
    log(
        f"    {run.train_result.steps_per_s:.1f} steps/s, {100 * run.train_result.data_wait_share:.1f}% "
        f"of each step waiting for data; checkpoint {run.checkpoint}"
    )
    with run.stage(
        "eval",
        f"3/4 evaluating over {cfg.eval_episodes} episodes (seeds from {cfg.eval_seed_start})",
    ):
        run.eval_result = _evaluate_demo_policy(cfg, env_config, run.checkpoint, out)
    ev = run.eval_result
    log(
        f"    success {100 * ev.success_rate:.1f}% (95% CI {100 * ev.ci_low:.1f}–{100 * ev.ci_high:.1f}%)"
    )
    log("4/4 writing the report")
    run.stage_s["total"] = sum(run.stage_s.values())
    report = write_report(run)
    log(f"done in {run.stage_s['total'] / 60:.1f} min: {report}")
    return DemoResult(
        out, dataset_root, run.checkpoint, ev, run.stage_s, report, run.saved, run.failed
    )


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
