"""Dataset features: LeRobot's feature dicts built from the one feature spec (bricobot.features).

A feature spec is LeRobot's ``{key: {"dtype", "shape", "names", "info"?}}``. It is built from a
robot's declared features (``{"<joint>.pos": float, "<camera>": (H, W, 3)}``, see
:class:`bricobot.robots.base.Robot`):

- ``observation.state``: float32 (n,), names ``"<joint>.pos"`` in the robot's order;
- ``action``: float32 (n,), names from the robot's action features;
- ``observation.images.<camera>``: ``video`` (or ``image``) uint8 (H, W, 3);
- timing (optional, on by default): ``timing.time_s`` (monotonic time the loop tick started),
  ``timing.state_capture_time_s`` (when the joints were read) and ``timing.capture_time_s.<camera>``
  (when each camera captured its frame), all float64 seconds on the same monotonic clock. They are
  kept out of the ``observation.`` namespace so that policies never take them as inputs.

Every dataset also has the default features ``timestamp`` (nominal, ``frame_index / fps``),
``frame_index``, ``episode_index``, ``index`` and ``task_index``, filled in by the writer.

A *frame* passed to :meth:`DatasetWriter.add_frame` maps every non-default feature key to its value:
float arrays (n,) for vectors, a float for (1,) features, uint8 (H, W, 3) RGB arrays for cameras.
:func:`frame_from_observation` builds one from a robot observation and action.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from bricobot.features import ACTION_KEY, IMAGE_PREFIX, STATE_KEY, FeatureSet

FeatureDict = dict[str, dict[str, Any]]

TIME_KEY = "timing.time_s"
STATE_CAPTURE_KEY = "timing.state_capture_time_s"
CAPTURE_PREFIX = "timing.capture_time_s."

DEFAULT_FEATURES: FeatureDict = {
    "timestamp": {"dtype": "float32", "shape": (1,), "names": None},
    "frame_index": {"dtype": "int64", "shape": (1,), "names": None},
    "episode_index": {"dtype": "int64", "shape": (1,), "names": None},
    "index": {"dtype": "int64", "shape": (1,), "names": None},
    "task_index": {"dtype": "int64", "shape": (1,), "names": None},
}

NUMERIC_DTYPES = ("float32", "float64", "int64", "int32", "bool")
CAMERA_DTYPES = ("video", "image")


class FrameError(ValueError):
    """A frame passed to the writer does not match the dataset's features."""


def capture_key(camera: str) -> str:
    """Feature key of a camera's measured capture time."""
    return f"{CAPTURE_PREFIX}{camera}"


def features_from_robot(
    observation_features: Mapping[str, Any],
    action_features: Mapping[str, Any],
    use_videos: bool = True,
    timing: bool = True,
) -> FeatureDict:
    """Dataset features for a robot: state, action, one image feature per camera, timing.

    ``observation_features`` maps ``"<joint>.pos"`` to ``float`` and ``"<camera>"`` to ``(H, W, 3)``.
    The default features are not included (the writer adds them).
    """
    spec = FeatureSet.from_robot(observation_features, action_features)
    features: FeatureDict = spec.to_info(use_videos)
    if timing:
        scalar = {"dtype": "float64", "shape": (1,), "names": None}
        features[TIME_KEY] = dict(scalar)
        if STATE_KEY in spec:
            features[STATE_CAPTURE_KEY] = dict(scalar)
        for cam in spec.cameras:
            features[capture_key(cam)] = dict(scalar)
    return features


def with_defaults(features: FeatureDict) -> FeatureDict:
    """``features`` followed by the default features (LeRobot's order in info.json)."""
    out = normalize(features)
    for key, spec in DEFAULT_FEATURES.items():
        out.setdefault(key, copy.deepcopy(spec))
    return out


def normalize(features: Mapping[str, Mapping[str, Any]]) -> FeatureDict:
    """Copy with shapes as tuples (JSON gives lists) and ``names`` present."""
    out: FeatureDict = {}
    for key, spec in features.items():
        s = copy.deepcopy(dict(spec))
        s["shape"] = tuple(int(x) for x in s["shape"])
        s.setdefault("names", None)
        out[key] = s
    return out


def user_keys(features: Mapping[str, Any]) -> list[str]:
    """Feature keys a frame must carry (everything but the default features)."""
    return [k for k in features if k not in DEFAULT_FEATURES]


def camera_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, s in features.items() if s["dtype"] in CAMERA_DTYPES]


def video_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, s in features.items() if s["dtype"] == "video"]


def image_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, s in features.items() if s["dtype"] == "image"]


def numeric_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, s in features.items() if s["dtype"] in NUMERIC_DTYPES]


def comparable(features: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Key → (dtype, shape, names) without codec details, for comparing two datasets."""
    norm = normalize(features)
    return {
        k: (s["dtype"], s["shape"], tuple(s["names"]) if s["names"] else None)
        for k, s in norm.items()
    }


def diff_features(
    existing: Mapping[str, Mapping[str, Any]], requested: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Human-readable differences between two feature specs (empty when they match)."""
    a, b = comparable(existing), comparable(requested)
    lines = []
    for key in a.keys() - b.keys():
        lines.append(f"feature {key!r} is in the dataset but not requested")
    for key in b.keys() - a.keys():
        lines.append(f"feature {key!r} is requested but not in the dataset")
    for key in a.keys() & b.keys():
        for field, x, y in zip(("dtype", "shape", "names"), a[key], b[key], strict=True):
            if x != y:
                lines.append(f"feature {key!r}: {field} is {x} in the dataset, requested {y}")
    cams_a = sorted(camera_keys(existing))
    cams_b = sorted(camera_keys(requested))
    if cams_a != cams_b:
        lines.append(f"camera set differs: dataset has {cams_a}, requested {cams_b}")
    return sorted(lines)


def frame_from_observation(
    features: Mapping[str, Mapping[str, Any]],
    observation: Mapping[str, Any],
    action: Mapping[str, float],
    capture_times_s: Mapping[str, float] | None = None,
    time_s: float | None = None,
) -> dict[str, Any]:
    """Build a writer frame from a robot observation, the action sent and capture times.

    ``observation`` and ``action`` are keyed as the robot declares them (``"<joint>.pos"``, camera
    names); ``capture_times_s`` is :attr:`Robot.capture_times_s` (``"observation.state"`` and camera
    names); ``time_s`` is the monotonic time of the loop tick.
    """
    frame: dict[str, Any] = {}
    times = dict(capture_times_s or {})
    for key, spec in features.items():
        if key == STATE_KEY:
            frame[key] = np.array([observation[n] for n in spec["names"]], dtype=np.float32)
        elif key == ACTION_KEY:
            frame[key] = np.array([action[n] for n in spec["names"]], dtype=np.float32)
        elif key.startswith(IMAGE_PREFIX):
            frame[key] = observation[key.removeprefix(IMAGE_PREFIX)]
        elif key == TIME_KEY:
            if time_s is None:
                raise FrameError(f"{TIME_KEY} is a feature of this dataset: pass time_s")
            frame[key] = float(time_s)
        elif key == STATE_CAPTURE_KEY:
            frame[key] = _capture_time(times, STATE_KEY)
        elif key.startswith(CAPTURE_PREFIX):
            frame[key] = _capture_time(times, key.removeprefix(CAPTURE_PREFIX))
    return frame


def _capture_time(times: Mapping[str, float], name: str) -> float:
    if name not in times:
        raise FrameError(
            f"no capture time for {name!r}: the robot must fill capture_times_s[{name!r}], "
            "or build the features with timing=False"
        )
    return float(times[name])


def check_frame(features: Mapping[str, Mapping[str, Any]], frame: Mapping[str, Any]) -> None:
    """Raise :class:`FrameError` naming every missing, unknown or misshapen key of ``frame``."""
    expected = set(user_keys(features))
    problems = [f"missing {k!r}" for k in sorted(expected - frame.keys())]
    problems += [f"unknown {k!r}" for k in sorted(frame.keys() - expected)]
    for key in sorted(expected & frame.keys()):
        spec = features[key]
        value = frame[key]
        shape = tuple(spec["shape"])
        if spec["dtype"] in CAMERA_DTYPES:
            if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != np.uint8:
                got = (
                    f"{value.dtype} {value.shape}"
                    if isinstance(value, np.ndarray)
                    else type(value).__name__
                )
                problems.append(f"{key!r} must be uint8 {shape} RGB, got {got}")
        elif spec["dtype"] == "string":
            if not isinstance(value, str):
                problems.append(f"{key!r} must be a str")
        else:
            arr = np.asarray(value)
            if arr.size != int(np.prod(shape)):
                problems.append(f"{key!r} must have shape {shape}, got {arr.shape}")
    if problems:
        raise FrameError("frame does not match the dataset features: " + "; ".join(problems))
