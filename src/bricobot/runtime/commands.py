"""Building what a runtime command needs from typed configs: devices, dataset writer, key events.

The CLI modules compose configs with Hydra and call the ``run_*`` functions of
:mod:`bricobot.runtime.record`, ``teleoperate``, ``replay`` and ``rollout``; those use these
helpers so that every command builds devices the same way and the library stays usable from
plain Python with dataclass configs.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter
from bricobot.registry import load_object, lookup, make
from bricobot.robots.base import Robot
from bricobot.robots.registry import ROBOTS
from bricobot.runtime.events import EpisodeEvents
from bricobot.teleop.base import Teleoperator
from bricobot.teleop.registry import TELEOPERATORS

log = logging.getLogger(__name__)

#: Where the keyboard listener of the devices layer lives (``KeyboardEvents``); imported lazily
#: because it needs a terminal.
KEYBOARD_EVENTS = "bricobot.teleop.keyboard:KeyboardEvents"


@dataclass
class DatasetConfig:
    """Where and how episodes are recorded."""

    #: Dataset folder; it must not exist unless ``resume`` is true.
    root: str = ""
    #: Text stored with every frame (what the demonstration does).
    task: str = ""
    num_episodes: int = 1
    episode_time_s: float = 30.0
    #: Between episodes the operator puts the scene back; nothing is recorded.
    reset_time_s: float = 10.0
    fps: int = 30
    #: Cameras as video (true) or as PNG images inside the data files (false).
    use_videos: bool = True
    codec: str = "libsvtav1"
    #: Append to an existing dataset at ``root`` after checking fps, features, cameras and robot.
    resume: bool = False

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"dataset.fps must be > 0, got {self.fps}")
        if self.num_episodes < 1:
            raise ValueError(f"dataset.num_episodes must be >= 1, got {self.num_episodes}")


def make_robot(config: Any) -> Robot:
    robot: Robot = make(ROBOTS, "robot", config)
    return robot


def make_teleop(config: Any, robot: Robot | None = None) -> Teleoperator:
    """Build a teleoperator. One whose class sets ``needs_robot = True`` (a scripted sim expert,
    which reads the privileged state of the scene it drives) is given ``robot=robot``.
    """
    entry_cls: type[Teleoperator] = lookup(TELEOPERATORS, "teleoperator", config.type).impl_class()
    if robot is not None and entry_cls.needs_robot:
        teleop: Teleoperator = make(TELEOPERATORS, "teleoperator", config, robot=robot)
    else:
        teleop = make(TELEOPERATORS, "teleoperator", config)
    return teleop


def check_rate(config: DatasetConfig, robot: Robot) -> None:
    """Refuse a recording whose fps differs from a simulated robot's control rate.

    A sim robot (its :attr:`Robot.control_hz`) steps 1/control_hz s of physics per action, so at
    another fps every frame would be stamped with the wrong time; real arms have no such rate.
    """
    control_hz = robot.control_hz
    if control_hz is None or control_hz == config.fps:
        return
    raise ValueError(
        f"the recording runs at {config.fps} fps (dataset.fps, or fps= for rollout) but the "
        f"simulated robot {robot.robot_type} steps its physics at control_hz={control_hz}: "
        f"{config.fps} frames would be labelled 1.0 s for {config.fps / control_hz:.2f} s of "
        f"physics. Record at dataset.fps={control_hz}, or set the robot's rate to match with "
        f"'+robot.task_config={{control_hz: {config.fps}}}'"
    )


def open_writer(config: DatasetConfig, robot: Robot) -> DatasetWriter:
    """Create the dataset at ``config.root``, or resume it (checked against the robot)."""
    if not config.root:
        raise ValueError("dataset.root is required: the folder to record into (dataset.root=...)")
    check_rate(config, robot)
    features = features_from_robot(
        robot.observation_features, robot.action_features, use_videos=config.use_videos
    )
    kwargs: dict[str, Any] = {
        "fps": config.fps,
        "features": features,
        "robot_type": robot.robot_type,
        "use_videos": config.use_videos,
        "codec": config.codec,
    }
    root = Path(config.root)
    if config.resume and (root / "meta" / "info.json").is_file():
        writer = DatasetWriter.resume(root, **kwargs)
        log.info("resuming %s after %d saved episodes", root, writer.num_episodes)
        return writer
    return DatasetWriter.create(root, **kwargs)


@contextlib.contextmanager
def keyboard_events(enabled: bool, teleop: Teleoperator | None = None) -> Iterator[EpisodeEvents]:
    """Episode keys from the terminal (→/n: next, ←/b: re-record, Esc/x: stop) when possible.

    A keyboard teleoperator's key reader is shared (one terminal drives the arm and the recorder).
    Without a terminal (a pipe, CI) or with ``enabled`` false, events can still be set in code.
    The events' ``keys_help`` says which keys are live (printed by :func:`key_help`).
    """
    shared_reader = teleop.reader if teleop is not None else None
    if not enabled or (shared_reader is None and not sys.stdin.isatty()):
        yield EpisodeEvents()
        return
    try:
        listener_cls = load_object(KEYBOARD_EVENTS)
    except (ImportError, AttributeError) as exc:
        log.warning("episode keys unavailable (%s); episodes run on timers only", exc)
        yield EpisodeEvents()
        return
    listener = listener_cls(reader=shared_reader) if shared_reader is not None else listener_cls()
    help_text = str(listener.help_text())
    if shared_reader is not None:  # the teleoperator opens and closes the terminal
        yield EpisodeEvents(poll=listener.poll, keys_help=help_text)
        return
    with listener:
        yield EpisodeEvents(poll=listener.poll, keys_help=help_text)


#: What Ctrl-C does, by command.
CTRL_C_HELP = {
    "record": "Ctrl-C: stop now (the episode in progress is discarded; saved ones stay); "
    "twice: release torque at once",
    "rollout": "Ctrl-C: stop now (a recorded episode in progress is discarded); "
    "twice: release torque at once",
    "teleoperate": "Ctrl-C: stop and leave the arm as configured; twice: release torque at once",
}


def key_help(teleop: Teleoperator | None, events: EpisodeEvents | None, command: str) -> list[str]:
    """Lines telling the person at the arm what each key does, printed before anything moves.

    A teleoperator with keys (:meth:`KeyboardTeleop.key_help`) lists its joint keys; ``events``
    (None for commands without episodes) adds the episode keys, or says they are off.
    """
    lines: list[str] = []
    if teleop is not None and teleop.key_help():
        lines.append(teleop.key_help())
    if events is not None:
        lines.append(
            events.keys_help
            or "episode keys off (keyboard=false or no terminal): each episode runs its full time"
        )
    lines.append(CTRL_C_HELP.get(command, "Ctrl-C: stop"))
    return lines


def episode_start_hook(robot: Robot, *others: Teleoperator) -> Callable[[], None]:
    """What to do when an episode starts: the robot starts a new scene
    (:meth:`Robot.reset_episode`: a simulated robot re-seeds, a real arm does nothing), then the
    teleoperators reset (a scripted expert plans from the new scene)."""

    def start() -> None:
        robot.reset_episode()
        for teleop in others:
            teleop.reset()

    return start
