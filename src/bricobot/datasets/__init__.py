"""bricobot.datasets: crash-safe recording and fast training reads, in the LeRobotDataset format.

Record (one frame per control-loop tick; see :mod:`.schema` for the frame dict)::

    from bricobot.datasets import DatasetWriter, features_from_robot, frame_from_observation

    features = features_from_robot(robot.observation_features, robot.action_features)
    writer = DatasetWriter.create("data/pick", fps=30, features=features,
                                  robot_type=robot.robot_type)       # or DatasetWriter.resume(...)
    with writer:
        for tick_start in loop:                                     # monotonic seconds
            obs = robot.get_observation()
            sent = robot.send_action(action)
            writer.add_frame(frame_from_observation(writer.features, obs, sent,
                                                    robot.capture_times_s, time_s=tick_start),
                             task="pick up the cube")
        writer.save_episode()    # durable once it returns; or writer.discard_episode()

Train::

    from bricobot.datasets import BricobotDataset

    ds = BricobotDataset("data/pick", delta_timestamps={"action": [i / 30 for i in range(100)]},
                         frame_cache=True, uint8_images=True)
    ds.meta.stats["action"]["mean"], ds.meta.features, ds.meta.fps, ds.meta.episodes

Tools (``bricobot dataset info|validate|repair|compact|edit``) are in :mod:`.validate`,
:mod:`.repair`, :mod:`.compact` and :mod:`.edit`. On-disk layout: :mod:`.layout`.
"""

from __future__ import annotations

import importlib
from typing import Any

# Exports load on first use: the encoder worker process imports this package and must not pay
# for torch (reader) at start-up.
_EXPORTS = {
    "BricobotDataset": "bricobot.datasets.reader",
    "DatasetError": "bricobot.datasets.metadata",
    "DatasetMeta": "bricobot.datasets.metadata",
    "DatasetWriter": "bricobot.datasets.writer",
    "FrameError": "bricobot.datasets.schema",
    "TimingBounds": "bricobot.datasets.writer",
    "VideoOptions": "bricobot.datasets.video",
    "check_frame": "bricobot.datasets.schema",
    "features_from_robot": "bricobot.datasets.schema",
    "frame_from_observation": "bricobot.datasets.schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bricobot.datasets' has no attribute {name!r}")
