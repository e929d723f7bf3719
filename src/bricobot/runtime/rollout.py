"""Running a trained policy on a robot in real time, optionally recording what it did.

The policy's feature spec (state names, cameras and their shapes, action names) travels in its
checkpoint; :func:`check_policy_on_robot` compares it with the robot's features by name and refuses
any mismatch before the robot is even connected, so nothing moves on a wrong guess. Inference runs
in the loop's "infer" stage, so its latency shows up in the per-stage timing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from bricobot.policies.base import ACTION_KEY, IMAGE_PREFIX, STATE_KEY, Policy, observation_to_batch
from bricobot.policies.checkpoint import boundary_features, check_features, load_policy
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import (
    DatasetConfig,
    episode_start_hook,
    key_help,
    keyboard_events,
    make_robot,
    open_writer,
)
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.progress import RecordProgress
from bricobot.runtime.record import (
    EpisodeSession,
    EpisodeWriter,
    RecordResult,
    RecordSettings,
    describe_record,
    hold_position,
    live_progress,
    record_episodes,
)
from bricobot.runtime.shutdown import robot_session

log = logging.getLogger(__name__)


def check_policy_on_robot(policy: Policy, robot: Robot) -> None:
    """Raise ``FeatureMismatchError`` (a diff by name) unless the policy fits the robot exactly."""
    available = boundary_features(robot.observation_features, robot.action_features)
    check_features(policy.config.all_features(), available, what=f"robot {robot.robot_type!r}")


class RolloutSource(Protocol):
    """What a rollout needs of its action source: observation → action, and a per-episode reset.

    :class:`PolicyActionSource` runs a local policy; ``bricobot.runtime.remote.client.RemotePolicySource``
    one on another machine. A source may also have ``close()`` (called when the rollout ends) and
    ``episode_summaries()`` (one dict per episode, added to the timing as ``"action_source"``).
    """

    def __call__(self, observation: dict[str, Any]) -> dict[str, float]: ...

    def reset(self) -> None: ...


class PolicyActionSource:
    """Robot observation → the policy's next action, keyed as the robot's action features.

    The observation's ``"<joint>.pos"`` values are stacked into ``observation.state`` in the order
    the policy was trained with (its feature names), and ``"<camera>"`` images become
    ``observation.images.<camera>``; the action vector is mapped back by the policy's action names.
    """

    def __init__(self, policy: Policy, robot: Robot, device: str | torch.device = "cpu") -> None:
        self.policy = policy
        self.device = torch.device(device)
        config = policy.config
        state = config.input_features.get(STATE_KEY)
        robot_state = [k for k, v in robot.observation_features.items() if not isinstance(v, tuple)]
        self.state_names = list(state.names) if state is not None and state.names else robot_state
        self.cameras = [k.removeprefix(IMAGE_PREFIX) for k in config.image_keys]
        action = config.output_features[ACTION_KEY]
        self.action_names = list(action.names) if action.names else list(robot.action_features)

    def __call__(self, observation: dict[str, Any]) -> dict[str, float]:
        obs: dict[str, Any] = {}
        if STATE_KEY in self.policy.config.input_features:
            obs[STATE_KEY] = np.array([observation[n] for n in self.state_names], np.float32)
        for camera in self.cameras:
            obs[f"{IMAGE_PREFIX}{camera}"] = observation[camera]
        batch = observation_to_batch(obs, self.policy.config, self.device)
        with torch.inference_mode():
            action = self.policy.select_action(batch)  # (1, A)
        values = action[0].detach().cpu().tolist()
        return {name: float(v) for name, v in zip(self.action_names, values, strict=True)}

    def reset(self) -> None:
        self.policy.reset()


@dataclass
class RolloutResult:
    episodes: int = 0
    #: ``"done"``, ``"stop_key"`` or ``"signal"``.
    reason: str = "done"
    timing: list[dict[str, Any]] = field(default_factory=list)
    recorded: RecordResult | None = None
    #: The episode (1-based) a signal cut short, if any; a recorded one is discarded.
    interrupted_episode: int | None = None
    #: The signal that ended the run (``"SIGINT"``, ``"SIGTERM"``); set by :func:`run_rollout`.
    signal: str | None = None


def describe_rollout(result: RolloutResult, root: str = "") -> str:
    """The one line at the end of a rollout: how many episodes ran, and what Ctrl-C did."""
    ran = f"ran {result.episodes} episode(s)"
    if result.recorded is not None:
        result.recorded.signal = result.recorded.signal or result.signal
        recorded = describe_record(result.recorded, root)
        return recorded if result.reason == "signal" else f"{ran}; {recorded}"
    if result.reason != "signal":
        return ran + ("; stopped by the stop key" if result.reason == "stop_key" else "")
    where = (
        f"episode {result.interrupted_episode} cut short"
        if result.interrupted_episode is not None
        else "during the reset period"
    )
    return f"interrupted ({result.signal or 'signal'}): {where}; {ran}, the last one in part"


def rollout(
    robot: Robot,
    policy: Policy,
    settings: RecordSettings,
    writer: EpisodeWriter | None = None,
    events: EpisodeEvents | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_episode_start: Callable[[], None] | None = None,
    clock: Clock | None = None,
    device: str | torch.device = "cpu",
    progress: RecordProgress | None = None,
) -> RolloutResult:
    """Run ``policy`` on a connected ``robot`` for ``settings.num_episodes`` episodes.

    With a ``writer`` every episode is recorded exactly as :func:`record_episodes` does. The policy
    is reset at the start of every episode, after ``on_episode_start`` (e.g. a sim scene reset).
    ``progress`` shows the episodes live (None: quiet). One rate watch covers every episode, so a
    policy too slow for ``settings.fps`` is reported once, not once per episode.
    """
    check_policy_on_robot(policy, robot)
    policy.eval()
    source = PolicyActionSource(policy, robot, device)
    return rollout_source(
        robot, source, settings, writer, events, should_stop, on_episode_start, clock, progress
    )


def rollout_source(
    robot: Robot,
    source: RolloutSource,
    settings: RecordSettings,
    writer: EpisodeWriter | None = None,
    events: EpisodeEvents | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_episode_start: Callable[[], None] | None = None,
    clock: Clock | None = None,
    progress: RecordProgress | None = None,
) -> RolloutResult:
    """:func:`rollout` with any action source (checked against the robot by its maker)."""

    def start() -> None:
        if on_episode_start is not None:
            on_episode_start()
        source.reset()

    if writer is not None:
        recorded = record_episodes(
            robot,
            source,
            writer,
            settings,
            events=events,
            should_stop=should_stop,
            on_episode_start=start,
            clock=clock,
            reset_source=hold_position,
            progress=progress,
        )
        result = RolloutResult(
            episodes=recorded.episodes_saved,
            reason=recorded.reason,
            timing=recorded.timing,
            recorded=recorded,
            interrupted_episode=recorded.interrupted_episode,
        )
    else:
        session = EpisodeSession.create(robot, settings, events, should_stop, clock, progress)
        result = _run_episodes(session, source, start)
    _add_source_timing(result.timing, source)
    return result


def _add_source_timing(timing: list[dict[str, Any]], source: RolloutSource) -> None:
    """Put the source's per-episode figures (a remote policy's action ages) beside the loop's."""
    summaries = getattr(source, "episode_summaries", None)
    if callable(summaries):
        for episode, summary in zip(timing, summaries(), strict=False):
            episode["action_source"] = summary


def _run_episodes(
    session: EpisodeSession, source: RolloutSource, start: Callable[[], None]
) -> RolloutResult:
    """The policy's episodes without recording; the arm holds still during reset periods."""
    settings, events, result = session.settings, session.events, RolloutResult()
    for number in range(1, settings.num_episodes + 1):
        events.clear_episode_flags()
        start()
        log.info("policy episode %d of %d", number, settings.num_episodes)
        session.show("running policy", number, settings.episode_time_s)
        try:
            run = session.loop(source).run(duration_s=settings.episode_time_s)
        finally:
            if session.progress is not None:
                session.progress.idle()
        result.timing.append(run.timing.summary())
        result.episodes += 1
        log.info("episode %d: %s", number, run.timing.format())
        if session.signalled():
            result.reason, result.interrupted_episode = "signal", number
            break
        if events.stop.is_set():
            result.reason = "stop_key"
            break
        if number < settings.num_episodes:  # the arm holds still while the scene is put back
            session.reset_period(hold_position, number + 1)
            result.reason = session.stop_reason()
            if result.reason != "done":
                break
    return result


def run_rollout(
    robot_config: Any,
    policy_path: str,
    num_episodes: int = 1,
    episode_time_s: float = 30.0,
    reset_time_s: float = 5.0,
    fps: int = 30,
    dataset: DatasetConfig | None = None,
    device: str = "cpu",
    keyboard: bool = True,
    progress: bool = True,
    source_factory: Callable[[Robot], RolloutSource] | None = None,
) -> RolloutResult:
    """``bricobot rollout``: load the checkpoint, check it against the robot, then run it.

    Everything that can be refused (checkpoint, features, dataset resume) is checked before the
    robot connects. With ``dataset`` (its ``root`` set) the episodes are recorded. The keys are
    printed before the arm moves; ``progress`` shows the episode and its time on a status line.
    ``source_factory`` replaces the local checkpoint (``policy_path`` is then unused): it builds
    the action source for the robot before the robot connects (a remote policy shakes hands with
    its server there), and the source is closed when the rollout ends.
    """
    policy = load_policy(policy_path, device=device) if source_factory is None else None
    robot = make_robot(robot_config)
    if policy is None:
        assert source_factory is not None
        source: RolloutSource = source_factory(robot)
    else:
        check_policy_on_robot(policy, robot)
        policy.eval()
        source = PolicyActionSource(policy, robot, device)
    try:
        return _run_source(
            robot,
            source,
            num_episodes,
            episode_time_s,
            reset_time_s,
            fps,
            dataset,
            keyboard,
            progress,
        )
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _run_source(
    robot: Robot,
    source: RolloutSource,
    num_episodes: int,
    episode_time_s: float,
    reset_time_s: float,
    fps: int,
    dataset: DatasetConfig | None,
    keyboard: bool,
    progress: bool,
) -> RolloutResult:
    """The robot session of :func:`run_rollout`: writer, keys, signals, episodes, shutdown."""
    writer = None
    if dataset is not None and dataset.root:
        writer = open_writer(dataclasses.replace(dataset, fps=fps), robot)
    task = dataset.task if dataset is not None else ""
    settings = RecordSettings(num_episodes, episode_time_s, reset_time_s, fps, task)
    result = RolloutResult()
    try:
        with (
            robot_session(robot) as signals,
            keyboard_events(keyboard) as events,
            live_progress(progress, events) as live,
        ):
            for line in key_help(None, events, "rollout"):
                log.info(line)
            result = rollout_source(
                robot,
                source,
                settings,
                writer=writer,
                events=events,
                should_stop=signals,
                on_episode_start=episode_start_hook(robot),
                progress=live,
            )
        result.signal = signals.received
    except KeyboardInterrupt:  # a second Ctrl-C: robot_session has released torque
        result.reason, result.signal = "signal", "SIGINT twice"
    finally:
        if writer is not None:
            writer.close()
            if result.recorded is not None:
                result.recorded.dataset_episodes = writer.num_episodes
    return result
