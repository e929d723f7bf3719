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
from typing import Any

import numpy as np
import torch

from bricobot.policies.base import ACTION_KEY, IMAGE_PREFIX, STATE_KEY, Policy, observation_to_batch
from bricobot.policies.checkpoint import boundary_features, check_features, load_policy
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import (
    DatasetConfig,
    episode_start_hook,
    keyboard_events,
    make_robot,
    open_writer,
)
from bricobot.runtime.events import EpisodeEvents
from bricobot.runtime.loop import ControlLoop
from bricobot.runtime.record import (
    EpisodeWriter,
    RecordResult,
    RecordSettings,
    hold_position,
    record_episodes,
    run_reset_period,
)
from bricobot.runtime.shutdown import robot_session

log = logging.getLogger(__name__)


def check_policy_on_robot(policy: Policy, robot: Robot) -> None:
    """Raise ``FeatureMismatchError`` (a diff by name) unless the policy fits the robot exactly."""
    available = boundary_features(robot.observation_features, robot.action_features)
    check_features(policy.config.all_features(), available, what=f"robot {robot.robot_type!r}")


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
    reason: str = "done"
    timing: list[dict[str, Any]] = field(default_factory=list)
    recorded: RecordResult | None = None


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
) -> RolloutResult:
    """Run ``policy`` on a connected ``robot`` for ``settings.num_episodes`` episodes.

    With a ``writer`` every episode is recorded exactly as :func:`record_episodes` does. The policy
    is reset at the start of every episode, after ``on_episode_start`` (e.g. a sim scene reset).
    """
    check_policy_on_robot(policy, robot)
    policy.eval()
    source = PolicyActionSource(policy, robot, device)

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
        )
        return RolloutResult(
            episodes=recorded.episodes_saved,
            reason=recorded.reason,
            timing=recorded.timing,
            recorded=recorded,
        )
    events = events or EpisodeEvents()
    signalled = should_stop or (lambda: False)
    result = RolloutResult()
    for number in range(1, settings.num_episodes + 1):
        events.clear_episode_flags()
        start()
        log.info("policy episode %d of %d", number, settings.num_episodes)
        run = ControlLoop(
            robot,
            source,
            settings.fps,
            clock=clock,
            should_stop=lambda: signalled() or events.any_set(),
        ).run(duration_s=settings.episode_time_s)
        result.timing.append(run.timing.summary())
        result.episodes += 1
        log.info("episode %d: %s", number, run.timing.format())
        if signalled():
            result.reason = "signal"
            break
        if events.stop.is_set():
            result.reason = "stop_key"
            break
        if number < settings.num_episodes:  # the arm holds still while the scene is put back
            run_reset_period(robot, hold_position, settings, events, signalled, clock)
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
) -> RolloutResult:
    """``bricobot rollout``: load the checkpoint, check it against the robot, then run it.

    Everything that can be refused (checkpoint, features, dataset resume) is checked before the
    robot connects. With ``dataset`` (its ``root`` set) the episodes are recorded.
    """
    policy = load_policy(policy_path, device=device)
    robot = make_robot(robot_config)
    check_policy_on_robot(policy, robot)
    writer = None
    if dataset is not None and dataset.root:
        writer = open_writer(dataclasses.replace(dataset, fps=fps), robot)
    settings = RecordSettings(
        num_episodes=num_episodes,
        episode_time_s=episode_time_s,
        reset_time_s=reset_time_s,
        fps=fps,
        task=dataset.task if dataset is not None else "",
    )
    try:
        with robot_session(robot) as signals, keyboard_events(keyboard) as events:
            return rollout(
                robot,
                policy,
                settings,
                writer=writer,
                events=events,
                should_stop=signals,
                on_episode_start=episode_start_hook(robot),
                device=device,
            )
    finally:
        if writer is not None:
            writer.close()
