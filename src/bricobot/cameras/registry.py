"""The camera registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new camera; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

CAMERAS: dict[str, RegistryEntry] = {
    "opencv": RegistryEntry(
        config="bricobot.cameras.opencv:OpenCVCameraConfig",
        impl="bricobot.cameras.opencv:OpenCVCamera",
        help="USB camera (or video file / image sequence stand-in) through OpenCV",
    ),
    "replay": RegistryEntry(
        config="bricobot.cameras.replay:ReplayCameraConfig",
        impl="bricobot.cameras.replay:ReplayCamera",
        help="a video file or image folder played back at its frame rate",
    ),
    "sim": RegistryEntry(
        config="bricobot.cameras.sim:SimCameraConfig",
        impl="bricobot.cameras.sim:SimCamera",
        help="a MuJoCo camera rendered off-screen",
    ),
}
