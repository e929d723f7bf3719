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

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from bricobot.datasets.schema import frame_from_observation
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import (
    DatasetConfig,
    episode_start_hook,
    key_help,
    keyboard_events,
    make_robot,
    make_teleop,
    open_writer,
)
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.loop import ActionSource, ControlLoop
from bricobot.runtime.progress import LiveRecordProgress, RecordProgress
from bricobot.runtime.shutdown import robot_session
from bricobot.runtime.sinks import LoopFrame, Sink, SinkWorker
from bricobot.runtime.teleoperate import JointDisplay, arm_label
from bricobot.runtime.timing import RateWatch

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

    @classmethod
    def from_dataset(
        cls, dataset: DatasetConfig, realtime_priority: int | None = None
    ) -> RecordSettings:
        """The settings ``bricobot record`` takes from its ``dataset`` config."""
        return cls(
            num_episodes=dataset.num_episodes,
            episode_time_s=dataset.episode_time_s,
            reset_time_s=dataset.reset_time_s,
            fps=dataset.fps,
            task=dataset.task,
            realtime_priority=realtime_priority,
        )


@dataclass
class RecordResult:
    """What was recorded: saved episodes, discarded ones, why it ended, and loop timing per episode."""

    episodes_saved: int = 0
    episodes_discarded: int = 0
    #: ``"done"``, ``"stop_key"`` or ``"signal"``; ``"error"`` when :func:`run_record` saw an
    #: exception end the run (it propagates).
    reason: str = "done"
    timing: list[dict[str, Any]] = field(default_factory=list)
    #: Number (1-based, in this run) of the episode a signal cut short and discarded; None when
    #: no signal came or it came during a reset period (then nothing was lost).
    interrupted_episode: int | None = None
    #: The signal that ended the run (``"SIGINT"``, ``"SIGTERM"``; ``"SIGINT twice"`` when a second
    #: Ctrl-C released torque at once); set by :func:`run_record`.
    signal: str | None = None
    #: Episodes the dataset holds after the run (earlier ones included); set by :func:`run_record`.
    dataset_episodes: int | None = None


def describe_record(result: RecordResult, root: str) -> str:
    """The one line a person reads at the end: what was saved where, and what Ctrl-C did."""
    saved = f"{result.episodes_saved} episode{'s' if result.episodes_saved != 1 else ''} saved"
    holds = (
        f" (it now holds {result.dataset_episodes})"
        if result.dataset_episodes is not None and result.dataset_episodes != result.episodes_saved
        else ""
    )
    where = f"{saved} in {root}{holds}"
    if result.reason == "error":
        episode = result.interrupted_episode
        lost = f": episode {episode} discarded" if episode is not None else ""
        return f"stopped by an error{lost}; {where}"
    if result.reason == "signal":
        what = f"interrupted ({result.signal or 'signal'})"
        if result.signal and "twice" in result.signal:
            what += ": torque released at once"
        if result.interrupted_episode is not None:
            lost = f"episode {result.interrupted_episode} discarded (not saved)"
        else:
            lost = "during the reset period, nothing lost"
        return f"{what}: {lost}; {where}"
    redo = result.episodes_discarded - (result.interrupted_episode is not None)
    redone = f"; {redo} re-recorded attempt(s) discarded" if redo > 0 else ""
    stopped = "; stopped by the stop key" if result.reason == "stop_key" else ""
    return f"recorded {result.episodes_saved} episode(s) into {root}{holds}{redone}{stopped}"


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


@dataclass
class EpisodeSession:
    """What every loop of one recording shares: robot, settings, keys, stop flag, clock, feedback."""

    robot: Robot
    settings: RecordSettings
    events: EpisodeEvents
    signalled: Callable[[], bool]
    clock: Clock | None
    progress: RecordProgress | None
    rate_watch: RateWatch | bool

    @classmethod
    def create(
        cls,
        robot: Robot,
        settings: RecordSettings,
        events: EpisodeEvents | None = None,
        should_stop: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        progress: RecordProgress | None = None,
        rate_watch: RateWatch | bool | None = None,
    ) -> EpisodeSession:
        """A session with defaults: no keys, no signal, quiet, one rate watch for every loop."""
        watch = RateWatch() if rate_watch is None or rate_watch is True else rate_watch
        events = events or EpisodeEvents()
        return cls(robot, settings, events, should_stop or _never, clock, progress, watch)

    def stop_reason(self) -> str:
        """``"signal"``, ``"stop_key"`` or ``"done"`` (go on), from the flags as they are now."""
        if self.signalled():
            return "signal"
        return "stop_key" if self.events.stop.is_set() else "done"

    def loop(self, source: ActionSource, sinks: SinkWorker | None = None) -> ControlLoop:
        return ControlLoop(
            self.robot,
            source,
            self.settings.fps,
            clock=self.clock,
            sinks=sinks,
            should_stop=lambda: self.signalled() or self.events.any_set(),
            realtime_priority=self.settings.realtime_priority,
            rate_watch=self.rate_watch,
        )

    def show(self, kind: str, episode: int, duration_s: float) -> None:
        if self.progress is not None:
            self.progress.phase(kind, episode, self.settings.num_episodes, duration_s)

    def reset_period(self, source: ActionSource, next_episode: int) -> None:
        """Let the operator put the scene back before ``next_episode``; nothing is recorded."""
        run_reset_period(
            self.robot,
            source,
            self.settings,
            self.events,
            self.signalled,
            self.clock,
            progress=self.progress,
            next_episode=next_episode,
            rate_watch=self.rate_watch,
        )


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
    progress: RecordProgress | None = None,
    rate_watch: RateWatch | bool | None = None,
    result: RecordResult | None = None,
) -> RecordResult:
    """Record ``settings.num_episodes`` episodes of ``robot`` driven by ``action_source``.

    ``should_stop`` is the signal flag (Ctrl-C / SIGTERM): it discards the episode in progress.
    ``on_episode_start`` resets the teleoperator or policy before each episode.
    ``reset_source`` drives the arm during reset periods (default: ``action_source``, so the
    operator keeps control; a policy rollout passes :func:`hold_position` instead).
    ``progress`` receives each phase for live feedback (None: quiet, logs only). ``rate_watch``
    warns when the loop cannot keep ``settings.fps`` (default: one watch for the whole recording,
    logging a rate-limited warning; ``False``: silent). ``result`` is filled in as the recording
    goes (a caller keeps what was saved and discarded even when an exception ends the run).
    The robot must already be connected (see :func:`~bricobot.runtime.shutdown.robot_session`).
    """
    session = EpisodeSession.create(
        robot, settings, events, should_stop, clock, progress, rate_watch
    )
    reset_source = reset_source or action_source
    result = result if result is not None else RecordResult()
    worker = SinkWorker([DatasetSink(writer, settings.task), *(extra_sinks or [])])
    try:
        while result.episodes_saved < settings.num_episodes and result.reason == "done":
            number = result.episodes_saved + 1
            kept = _record_one(session, action_source, writer, worker, on_episode_start, result)
            if result.reason == "done" and (not kept or number < settings.num_episodes):
                # A re-recorded episode keeps its number; the scene is put back either way.
                session.reset_period(reset_source, number + 1 if kept else number)
                result.reason = session.stop_reason()
    finally:
        worker.close()
        if progress is not None:
            progress.idle()
    return result


def _record_one(
    session: EpisodeSession,
    source: ActionSource,
    writer: EpisodeWriter,
    worker: SinkWorker,
    on_episode_start: Callable[[], None] | None,
    result: RecordResult,
) -> bool:
    """Record one episode; save it unless a signal or the re-record key says otherwise.

    Returns whether it was saved; sets ``result.reason`` when the recording must end.
    """
    number = result.episodes_saved + 1
    settings, events = session.settings, session.events
    events.clear_episode_flags()
    if on_episode_start is not None:
        on_episode_start()
    log.info("recording episode %d of %d", number, settings.num_episodes)
    session.show("recording", number, settings.episode_time_s)
    try:
        run = session.loop(source, worker).run(duration_s=settings.episode_time_s)
        worker.flush()
    except BaseException:
        _discard(writer, worker, "the run ended with an error")
        result.episodes_discarded += 1
        result.interrupted_episode = number
        raise
    finally:
        if session.progress is not None:
            session.progress.idle()
    result.timing.append(run.timing.summary())
    log.info("episode %d: %s", number, run.timing.format())
    if session.signalled():
        _discard(writer, worker, "a stop signal arrived")
        result.episodes_discarded += 1
        result.interrupted_episode = number
        result.reason = "signal"
        return False
    if events.rerecord.is_set():
        _discard(writer, worker, "re-record requested")
        result.episodes_discarded += 1
        return False
    writer.save_episode()
    result.episodes_saved += 1
    log.info("saved episode %d (%d frames)", number, run.steps)
    if events.stop.is_set():
        result.reason = "stop_key"
    return True


def _never() -> bool:
    """The stop flag of a recording that no signal can stop."""
    return False


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
    progress: RecordProgress | None = None,
    next_episode: int = 0,
    rate_watch: RateWatch | bool | None = None,
) -> None:
    """Let the operator put the scene back: the loop keeps driving the arm, nothing is recorded.

    ``progress`` shows the reset period, counting down to ``next_episode``.
    """
    if settings.reset_time_s <= 0:
        return
    events.clear_episode_flags()
    log.info("reset the environment (%.0f s; next-episode key skips)", settings.reset_time_s)
    if progress is not None:
        progress.phase("reset", next_episode, settings.num_episodes, settings.reset_time_s)
    try:
        ControlLoop(
            robot,
            action_source,
            settings.fps,
            clock=clock,
            should_stop=lambda: signalled() or events.any_set(),
            realtime_priority=settings.realtime_priority,
            rate_watch=rate_watch,
        ).run(duration_s=settings.reset_time_s)
    finally:
        if progress is not None:
            progress.idle()
    events.clear_episode_flags()


def run_record(
    robot_config: Any,
    teleop_config: Any,
    dataset: DatasetConfig,
    keyboard: bool = True,
    display: bool = False,
    realtime_priority: int | None = None,
    progress: bool = True,
) -> RecordResult:
    """``bricobot record``: build the devices, open (or resume) the dataset, record, shut down.

    The dataset is opened before the robot connects, so a resume that does not match the robot is
    refused before anything moves. Whatever ends the run, the writer is closed (an unsaved episode
    is discarded) and the robot is left as its config says. The keys are printed before the arm
    moves; ``progress`` shows the episode, its elapsed and remaining time on a status line. A
    second Ctrl-C (torque released at once) still returns a result, with ``signal`` saying so.
    """
    robot = make_robot(robot_config)
    teleop = make_teleop(teleop_config, robot)
    writer = open_writer(dataset, robot)
    settings = RecordSettings.from_dataset(dataset, realtime_priority)
    result = RecordResult()
    try:
        with (
            robot_session(robot, [teleop]) as signals,
            keyboard_events(keyboard, teleop) as events,
            live_progress(progress, events) as live,
        ):
            for line in key_help(teleop, events, "record"):
                log.info(line)
            write = live.print_above if live is not None else None
            record_episodes(
                robot,
                lambda obs: teleop.get_action(),
                writer,
                settings,
                events=events,
                should_stop=signals,
                on_episode_start=episode_start_hook(robot, teleop),
                extra_sinks=[JointDisplay(arm=arm_label(robot), write=write)] if display else None,
                progress=live,
                result=result,
            )
        result.signal = signals.received
    except KeyboardInterrupt:  # a second Ctrl-C: robot_session has released torque
        result.reason, result.signal = "signal", "SIGINT twice"
    except BaseException:
        result.reason = "error"
        raise
    finally:
        writer.close()
        result.dataset_episodes = writer.num_episodes
        if result.reason == "error":
            log.error("%s", describe_record(result, dataset.root))
    return result


@contextlib.contextmanager
def live_progress(enabled: bool, events: EpisodeEvents) -> Iterator[LiveRecordProgress | None]:
    """A live status line on stderr for the episodes (None when ``enabled`` is false); during a
    reset period it names the key that starts the next episode when ``events`` reads keys."""
    if not enabled:
        yield None
        return
    with LiveRecordProgress(keys_hint="→ or n" if events.keys_active else "") as live:
        yield live
