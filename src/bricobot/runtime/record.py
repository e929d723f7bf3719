"""Recording episodes: a teleoperator (or policy) drives a robot and every step goes to a dataset.

Each episode runs the control loop for ``episode_time_s`` with the dataset writer as a sink (off the
control thread), then the episode is saved (committed atomically by the writer) and a reset period
follows, during which the operator still drives the arm but nothing is recorded. Keys end an
episode early (kept), re-record it (discarded, then recorded again) or stop after saving it.

Whatever ends the run early — Ctrl-C, SIGTERM, an exception such as a camera that stopped
delivering or a motor that stopped answering — the partial episode is discarded and every episode
saved before it stays intact; the caller's :func:`~bricobot.runtime.shutdown.robot_session` leaves
the arm as configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bricobot.datasets.schema import frame_from_observation
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import (
    DatasetConfig,
    episode_start_hook,
    keyboard_events,
    make_robot,
    make_teleop,
    open_writer,
)
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.loop import ActionSource, ControlLoop
from bricobot.runtime.shutdown import robot_session
from bricobot.runtime.sinks import LoopFrame, Sink, SinkWorker
from bricobot.runtime.teleoperate import JointDisplay

log = logging.getLogger(__name__)


class EpisodeWriter(Protocol):
    """What the recorder needs of a dataset writer (:class:`bricobot.datasets.writer.DatasetWriter`)."""

    @property
    def features(self) -> dict[str, dict[str, Any]]: ...

    def add_frame(self, frame: dict[str, Any], task: str) -> None: ...

    def save_episode(self) -> Any: ...

    def discard_episode(self) -> None: ...


@dataclass
class RecordSettings:
    """How many episodes, how long, and the task text stored with every frame."""

    num_episodes: int = 1
    episode_time_s: float = 30.0
    #: Time between episodes to put the scene back; the teleoperator still drives, nothing is saved.
    reset_time_s: float = 10.0
    fps: float = 30.0
    task: str = ""
    #: SCHED_FIFO priority (1-99) of the control thread on Linux; None keeps normal scheduling.
    realtime_priority: int | None = None

    def __post_init__(self) -> None:
        if self.num_episodes < 1:
            raise ValueError(f"num_episodes must be >= 1, got {self.num_episodes}")
        if not self.episode_time_s > 0:
            raise ValueError(f"episode_time_s must be > 0, got {self.episode_time_s}")
        if self.reset_time_s < 0:
            raise ValueError(f"reset_time_s must be >= 0, got {self.reset_time_s}")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")


@dataclass
class RecordResult:
    """What was recorded: saved episodes, discarded ones, why it ended, and loop timing per episode."""

    episodes_saved: int = 0
    episodes_discarded: int = 0
    #: ``"done"``, ``"stop_key"`` or ``"signal"`` (exceptions propagate instead).
    reason: str = "done"
    timing: list[dict[str, Any]] = field(default_factory=list)


class DatasetSink:
    """Sink that turns loop frames into dataset frames and hands them to the writer."""

    def __init__(self, writer: EpisodeWriter, task: str) -> None:
        self.writer = writer
        self.task = task
        self.features = writer.features
        self.frames = 0

    def add_frame(self, frame: LoopFrame) -> None:
        data = frame_from_observation(
            self.features,
            frame.observation,
            frame.action,
            capture_times_s=frame.capture_times_s,
            time_s=frame.step_start_s,
        )
        self.writer.add_frame(data, task=self.task)
        self.frames += 1


def record_episodes(
    robot: Robot,
    action_source: ActionSource,
    writer: EpisodeWriter,
    settings: RecordSettings,
    events: EpisodeEvents | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_episode_start: Callable[[], None] | None = None,
    clock: Clock | None = None,
    extra_sinks: list[Sink] | None = None,
    reset_source: ActionSource | None = None,
) -> RecordResult:
    """Record ``settings.num_episodes`` episodes of ``robot`` driven by ``action_source``.

    ``should_stop`` is the signal flag (Ctrl-C / SIGTERM): it discards the episode in progress.
    ``on_episode_start`` resets the teleoperator or policy before each episode.
    ``reset_source`` drives the arm during reset periods (default: ``action_source``, so the
    operator keeps control; a policy rollout passes :func:`hold_position` instead).
    The robot must already be connected (see :func:`~bricobot.runtime.shutdown.robot_session`).
    """
    events = events or EpisodeEvents()
    signalled = should_stop or (lambda: False)
    reset_source = reset_source or action_source
    result = RecordResult()
    dataset_sink = DatasetSink(writer, settings.task)
    worker = SinkWorker([dataset_sink, *(extra_sinks or [])])
    try:
        while result.episodes_saved < settings.num_episodes:
            number = result.episodes_saved + 1
            events.clear_episode_flags()
            if on_episode_start is not None:
                on_episode_start()
            log.info("recording episode %d of %d", number, settings.num_episodes)
            loop = ControlLoop(
                robot,
                action_source,
                settings.fps,
                clock=clock,
                sinks=worker,
                should_stop=lambda: signalled() or events.any_set(),
                realtime_priority=settings.realtime_priority,
            )
            try:
                run = loop.run(duration_s=settings.episode_time_s)
                worker.flush()
            except BaseException:
                _discard(writer, worker, "the run ended with an error")
                result.episodes_discarded += 1
                raise
            result.timing.append(run.timing.summary())
            log.info("episode %d: %s", number, run.timing.format())
            if signalled():
                _discard(writer, worker, "a stop signal arrived")
                result.episodes_discarded += 1
                result.reason = "signal"
                break
            if events.rerecord.is_set():
                _discard(writer, worker, "re-record requested")
                result.episodes_discarded += 1
                run_reset_period(robot, reset_source, settings, events, signalled, clock)
                continue
            writer.save_episode()
            result.episodes_saved += 1
            log.info("saved episode %d (%d frames)", number, run.steps)
            if events.stop.is_set():
                result.reason = "stop_key"
                break
            if result.episodes_saved < settings.num_episodes:
                run_reset_period(robot, reset_source, settings, events, signalled, clock)
                if signalled():
                    result.reason = "signal"
                    break
                if events.stop.is_set():
                    result.reason = "stop_key"
                    break
    finally:
        worker.close()
    return result


def hold_position(observation: dict[str, Any]) -> dict[str, float]:
    """Action source that keeps every joint where it is (a reset period without an operator)."""
    return {k: float(v) for k, v in observation.items() if k.endswith(".pos")}


def _discard(writer: EpisodeWriter, worker: SinkWorker, why: str) -> None:
    """Drop the episode in progress: wait for queued frames (best effort), then clear it."""
    try:
        worker.flush(timeout_s=30.0)
    except Exception as exc:  # the sink may be what failed; clearing still applies
        log.debug("flush before discard failed: %s", exc)
    writer.discard_episode()
    log.warning("discarded the episode in progress: %s", why)


def run_reset_period(
    robot: Robot,
    action_source: ActionSource,
    settings: RecordSettings,
    events: EpisodeEvents,
    signalled: Callable[[], bool],
    clock: Clock | None,
) -> None:
    """Let the operator put the scene back: the loop keeps driving the arm, nothing is recorded."""
    if settings.reset_time_s <= 0:
        return
    events.clear_episode_flags()
    log.info("reset the environment (%.0f s; next-episode key skips)", settings.reset_time_s)
    ControlLoop(
        robot,
        action_source,
        settings.fps,
        clock=clock,
        should_stop=lambda: signalled() or events.any_set(),
        realtime_priority=settings.realtime_priority,
    ).run(duration_s=settings.reset_time_s)
    events.clear_episode_flags()


def run_record(
    robot_config: Any,
    teleop_config: Any,
    dataset: DatasetConfig,
    keyboard: bool = True,
    display: bool = False,
    realtime_priority: int | None = None,
) -> RecordResult:
    """``bricobot record``: build the devices, open (or resume) the dataset, record, shut down.

    The dataset is opened before the robot connects, so a resume that does not match the robot is
    refused before anything moves. Whatever ends the run, the writer is closed (an unsaved episode
    is discarded) and the robot is left as its config says.
    """
    robot = make_robot(robot_config)
    teleop = make_teleop(teleop_config, robot)
    writer = open_writer(dataset, robot)
    settings = RecordSettings(
        num_episodes=dataset.num_episodes,
        episode_time_s=dataset.episode_time_s,
        reset_time_s=dataset.reset_time_s,
        fps=dataset.fps,
        task=dataset.task,
        realtime_priority=realtime_priority,
    )
    before = writer.num_episodes
    try:
        with (
            robot_session(robot, [teleop]) as signals,
            keyboard_events(keyboard, teleop) as events,
        ):
            result = record_episodes(
                robot,
                lambda obs: teleop.get_action(),
                writer,
                settings,
                events=events,
                should_stop=signals,
                on_episode_start=episode_start_hook(robot, teleop),
                extra_sinks=[JointDisplay()] if display else None,
            )
    finally:
        writer.close()
        log.info(
            "%s holds %d episodes (%d recorded now)",
            dataset.root,
            writer.num_episodes,
            writer.num_episodes - before,
        )
    return result
