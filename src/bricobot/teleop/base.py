"""The Teleoperator interface: anything that produces actions for a robot.

Leader arms, the keyboard and the scripted sim experts all expose ``get_action()`` returning
``"<joint>.pos" -> value`` in the robot's units (degrees from zero, gripper percent open).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from bricobot.robots.base import FeatureSpec


class Teleoperator(abc.ABC):
    """Base class of every teleoperator. Use as a context manager to always disconnect.

    Optional capabilities are declared here with their neutral default, so callers never probe:
    ``needs_robot`` (built with the robot it drives: a scripted sim expert reads its scene),
    ``reader`` (a terminal key reader the recorder's episode keys share), ``key_help()``.
    """

    #: True: the teleoperator is built with ``robot=<the robot it drives>``.
    needs_robot: ClassVar[bool] = False
    #: A terminal key reader shared with the episode keys (keyboard teleop); None: reads no keys.
    reader: Any = None

    @property
    @abc.abstractmethod
    def action_features(self) -> FeatureSpec:
        """``"<joint>.pos" -> float`` for each joint it commands."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool: ...

    @abc.abstractmethod
    def connect(self) -> None: ...

    @abc.abstractmethod
    def get_action(self) -> dict[str, float]:
        """The operator's current command."""

    @abc.abstractmethod
    def disconnect(self) -> None: ...

    def reset(self) -> None:  # noqa: B027 - optional hook, most teleoperators keep no episode state
        """Called at the start of every episode."""

    def key_help(self) -> str:
        """What each key does, printed before anything moves ("" for teleoperators without keys)."""
        return ""

    def __enter__(self) -> Teleoperator:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_connected:
            self.disconnect()
