"""A dataset writer double: keeps episodes in memory with the same add / save / clear contract."""

from __future__ import annotations

from typing import Any

from bricobot.datasets.schema import check_frame, features_from_robot
from bricobot.robots.base import Robot


class FakeWriter:
    """Buffers frames of the episode in progress; ``save_episode`` commits them, ``clear`` drops them."""

    def __init__(self, robot: Robot) -> None:
        self.features = features_from_robot(robot.observation_features, robot.action_features)
        self.buffer: list[dict[str, Any]] = []
        self.episodes: list[list[dict[str, Any]]] = []
        self.tasks: set[str] = set()
        self.cleared = 0

    def add_frame(self, frame: dict[str, Any], task: str) -> None:
        check_frame(self.features, frame)
        self.tasks.add(task)
        self.buffer.append(frame)

    def save_episode(self) -> int:
        if not self.buffer:
            raise ValueError("no frames to save")
        self.episodes.append(self.buffer)
        self.buffer = []
        return len(self.episodes) - 1

    def discard_episode(self) -> None:
        self.buffer = []
        self.cleared += 1
