"""Replaying a recorded episode: its actions are sent to a robot at the dataset's frame rate.

The actions go through the same loop (and so the same safety checks, motion cap and timing) as
teleoperation. The dataset's action names must equal the robot's action keys; they are matched by
name, never by position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from bricobot.datasets.metadata import DatasetMeta, read_parquet
from bricobot.datasets.schema import ACTION_KEY
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock
from bricobot.runtime.commands import make_robot
from bricobot.runtime.loop import ControlLoop, LoopResult
from bricobot.runtime.shutdown import robot_session

log = logging.getLogger(__name__)


class ReplayError(ValueError):
    """The episode cannot be replayed on this robot (missing episode, different action names)."""


def load_episode_actions(root: str | Path, episode: int) -> tuple[list[str], np.ndarray, int]:
    """Action names, actions ``(T, A)`` float32 and fps of ``episode`` in the dataset at ``root``."""
    meta = DatasetMeta.load(root)
    if not 0 <= episode < meta.total_episodes:
        raise ReplayError(
            f"episode {episode} not in {root}: it has episodes 0..{meta.total_episodes - 1}"
        )
    if ACTION_KEY not in meta.features:
        raise ReplayError(f"dataset {root} has no {ACTION_KEY!r} feature to replay")
    names = list(meta.features[ACTION_KEY]["names"] or [])
    table = read_parquet(meta.data_path(episode), Path(root), columns=[ACTION_KEY, "episode_index"])
    table = table.filter(pc.equal(table["episode_index"], episode))
    actions = np.asarray(table[ACTION_KEY].to_pylist(), dtype=np.float32)  # (T, A)
    if actions.ndim != 2 or actions.shape[0] == 0:
        raise ReplayError(f"episode {episode} of {root} has no actions")
    return names, actions, meta.fps


class EpisodeActions:
    """Action source that returns the recorded actions in order, one per step."""

    def __init__(self, names: list[str], actions: np.ndarray) -> None:
        self.names = names
        self.actions = actions  # (T, A)
        self.step = 0

    def __call__(self, observation: dict[str, Any]) -> dict[str, float]:
        row = self.actions[min(self.step, len(self.actions) - 1)]
        self.step += 1
        return {name: float(v) for name, v in zip(self.names, row, strict=True)}


def replay_episode(
    robot: Robot,
    root: str | Path,
    episode: int,
    fps: float | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Clock | None = None,
) -> LoopResult:
    """Send episode ``episode`` of the dataset at ``root`` to a connected ``robot``."""
    names, actions, dataset_fps = load_episode_actions(root, episode)
    robot_keys = list(robot.action_features)
    if sorted(names) != sorted(robot_keys):
        raise ReplayError(
            f"the dataset's actions {names} do not match robot {robot.robot_type!r}'s {robot_keys}"
        )
    log.info(
        "replaying episode %d of %s: %d frames at %s fps",
        episode,
        root,
        len(actions),
        fps or dataset_fps,
    )
    source = EpisodeActions(names, actions)
    return ControlLoop(robot, source, fps or dataset_fps, clock=clock, should_stop=should_stop).run(
        max_steps=len(actions)
    )


def run_replay(
    robot_config: Any, root: str, episode: int = 0, fps: float | None = None
) -> LoopResult:
    """``bricobot replay``: load the episode first (so a bad one moves nothing), then replay it."""
    load_episode_actions(root, episode)  # fail before connecting on a missing or bad episode
    robot = make_robot(robot_config)
    with robot_session(robot) as signals:
        result = replay_episode(robot, root, episode, fps=fps, should_stop=signals)
    log.info("replay ended (%s): %s", result.reason, result.timing.format())
    return result
