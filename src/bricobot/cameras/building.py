"""Build a robot's cameras from its ``cameras`` config: name → camera config (or plain dict).

Configs composed by Hydra arrive as dataclasses; configs written by hand or read from JSON arrive
as dicts with a ``type`` key. Both go through the camera registry, so no code names a camera class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bricobot.cameras.base import Camera
from bricobot.cameras.registry import CAMERAS
from bricobot.loading import from_dict
from bricobot.registry import lookup, make


def camera_config(name: str, value: Any) -> Any:
    """A typed camera config from a dataclass or a ``{"type": ..., ...}`` mapping."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value
    if isinstance(value, Mapping):
        kind = value.get("type")
        if not isinstance(kind, str):
            raise ValueError(
                f"camera {name!r}: config needs a 'type' (one of {', '.join(sorted(CAMERAS))})"
            )
        entry = lookup(CAMERAS, "camera", kind)
        return from_dict(entry.config_class(), dict(value), path=f"cameras.{name}")
    raise ValueError(f"camera {name!r}: expected a camera config, got {type(value).__name__}")


def make_cameras(configs: Mapping[str, Any], **kwargs: Any) -> dict[str, Camera]:
    """One camera per entry, named after its key (``kwargs`` go to every constructor)."""
    cameras: dict[str, Camera] = {}
    for name, value in configs.items():
        cameras[name] = make(CAMERAS, "camera", camera_config(name, value), name=name, **kwargs)
    return cameras


def read_frame(camera: Camera) -> Any:
    """The newest frame, without locking the caller's phase to the camera when it can
    (:meth:`Camera.read_latest`: at once for threaded cameras, refusing a stale frame)."""
    return camera.read_latest()
