"""The one feature spec: what a robot observes and takes, as datasets, policies and runtime see it.

A robot declares its features as ``{"<joint>.pos": float, "<camera>": (H, W, 3)}`` (see
:class:`bricobot.robots.base.Robot`). From that, :meth:`FeatureSet.from_robot` builds the set every
other part uses, with one convention:

- ``observation.state``: float32 ``(n,)``, names ``"<joint>.pos"`` in the robot's order;
- ``action``: float32 ``(n,)``, names from the robot's action features;
- ``observation.images.<camera>``: uint8 ``(H, W, 3)`` RGB.

It is stored in a dataset's ``info.json`` (:meth:`FeatureSet.to_info` / :meth:`FeatureSet.from_info`,
LeRobot's ``{key: {"dtype", "shape", "names"}}``; cameras as ``video`` or ``image``), in a
checkpoint's config (the policy's features), and compared before a policy moves a robot
(:meth:`FeatureSet.check_fits`: a diff by name). Key names are defined here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bricobot.errors import BricobotError

STATE_KEY = "observation.state"
ACTION_KEY = "action"
IMAGE_PREFIX = "observation.images."

STATE, ACTION, IMAGE = "state", "action", "image"
CAMERA_DTYPES = ("video", "image")


class FeatureMismatchError(BricobotError):
    """A policy's features differ from a robot's or env's; the message is a diff by name."""


def image_key(camera: str) -> str:
    """``observation.images.<camera>``."""
    return f"{IMAGE_PREFIX}{camera}"


def is_image_key(key: str) -> bool:
    return key.startswith(IMAGE_PREFIX)


def camera_of(key: str) -> str:
    """The camera name of an image key (``observation.images.front`` → ``front``)."""
    return key.removeprefix(IMAGE_PREFIX)


def kind_of(key: str) -> str | None:
    """``state``, ``action``, ``image``, or None for keys outside the spec (timing, indices)."""
    if key == STATE_KEY:
        return STATE
    if key == ACTION_KEY:
        return ACTION
    return IMAGE if is_image_key(key) else None


@dataclass(frozen=True)
class Feature:
    """One feature: key, kind, element dtype, shape, element names (empty for images)."""

    key: str
    kind: str
    dtype: str
    shape: tuple[int, ...]
    names: tuple[str, ...] = ()

    def to_info(self, use_videos: bool = True) -> dict[str, Any]:
        """The LeRobot ``info.json`` entry (images: dtype ``video`` or ``image``)."""
        if self.kind == IMAGE:
            names = ["height", "width", "channels"]
            return {
                "dtype": "video" if use_videos else "image",
                "shape": self.shape,
                "names": names,
            }
        return {"dtype": self.dtype, "shape": self.shape, "names": list(self.names)}


@dataclass(frozen=True)
class FeatureSet:
    """The state, action and image features of a robot, env, dataset or policy, in order."""

    features: tuple[Feature, ...]

    @classmethod
    def from_robot(
        cls, observation_features: Mapping[str, Any], action_features: Mapping[str, Any]
    ) -> FeatureSet:
        """From a Robot's ``observation_features`` and ``action_features`` (see module doc)."""
        joints = [k for k, v in observation_features.items() if not isinstance(v, tuple | list)]
        out: list[Feature] = []
        if joints:
            out.append(Feature(STATE_KEY, STATE, "float32", (len(joints),), tuple(joints)))
        actions = tuple(action_features)
        if actions:
            out.append(Feature(ACTION_KEY, ACTION, "float32", (len(actions),), actions))
        for name, value in observation_features.items():
            if isinstance(value, tuple | list):
                shape = tuple(int(v) for v in value)
                if len(shape) != 3 or shape[2] != 3:
                    raise ValueError(f"camera {name!r} declares shape {shape}; expected (H, W, 3)")
                out.append(Feature(image_key(name), IMAGE, "uint8", shape))
        return cls(tuple(out))

    @classmethod
    def from_info(cls, info_features: Mapping[str, Mapping[str, Any]]) -> FeatureSet:
        """From ``info.json``'s ``features`` (keys outside the spec, e.g. timing, are skipped)."""
        out = []
        for key, entry in info_features.items():
            kind = kind_of(key)
            if kind is None:
                continue
            shape = tuple(int(v) for v in entry["shape"])
            if kind == IMAGE:
                out.append(Feature(key, IMAGE, "uint8", shape))
            else:
                names = tuple(entry.get("names") or ())
                out.append(Feature(key, kind, str(entry["dtype"]), shape, names))
        return cls(tuple(out))

    def to_info(self, use_videos: bool = True) -> dict[str, dict[str, Any]]:
        return {f.key: f.to_info(use_videos) for f in self.features}

    def __getitem__(self, key: str) -> Feature:
        for feature in self.features:
            if feature.key == key:
                return feature
        raise KeyError(f"no feature {key!r}; features: {', '.join(self.keys)}")

    def __contains__(self, key: object) -> bool:
        return any(f.key == key for f in self.features)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.features]

    @property
    def cameras(self) -> list[str]:
        return [camera_of(f.key) for f in self.features if f.kind == IMAGE]

    def check_fits(self, available: FeatureSet, what: str = "env") -> None:
        """Raise :class:`FeatureMismatchError` unless ``available`` (a robot's or env's features)
        has every feature of this (a policy's) with the same shape and names, and takes exactly
        the actions this produces. Extra observations of the robot (an unused camera) are fine."""
        lines = []
        for feature in self.features:
            if feature.key not in available:
                lines.append(
                    f"- {feature.key}: the policy needs {feature.shape}, the {what} has no such feature"
                )
                continue
            other = available[feature.key]
            if feature.shape != other.shape:
                lines.append(
                    f"~ {feature.key}: shape {feature.shape} (policy) vs {other.shape} ({what})"
                )
            if feature.names and other.names and feature.names != other.names:
                lines.append(
                    f"~ {feature.key}: names {list(feature.names)} (policy) vs "
                    f"{list(other.names)} ({what})"
                )
        if ACTION_KEY in available and ACTION_KEY not in self:
            lines.append(f"+ {ACTION_KEY}: the {what} takes actions the policy does not produce")
        if lines:
            raise FeatureMismatchError(
                f"the policy's features do not match the {what}'s "
                f"(the {what} has: {', '.join(sorted(available.keys))}):\n" + "\n".join(lines)
            )
