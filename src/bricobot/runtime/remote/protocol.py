"""The messages of the remote-policy protocol, built on :mod:`bricobot.runtime.remote.wire` frames.

::

    robot                                   server
    HELLO {token, robot_type, features} ->
                                        <-  WELCOME {policy_type, features, chunk_size,
                                                         n_obs_steps, continues_prefix,
                                                         image_size}
                                            or ERROR {code: auth | features | busy | protocol}
    OBSERVATION {seq, obs_time_s, steps} + state, camera frames [+ prefix (d, A)] ->
                                        <-  CHUNK {seq, obs_time_s, infer_s} + action (n, A)
    ...

Every message carries ``time_s``, the sender's monotonic clock. Ages are measured on the robot's
clock only (the server echoes ``obs_time_s``), so the two machines' clocks never need to agree.
Features travel as ``{key: {"shape": [...], "names": [...]}}``, the checkpoint's spec format.

A policy that looks at a history of observations (Diffusion Policy's ``n_obs_steps``) says so in
WELCOME; the robot then sends the last ``n_obs_steps`` control steps' observations in each
OBSERVATION (``steps`` of them, oldest first, blobs named ``<key>@<t>``), exactly the history the
policy sees when it runs next to the robot. One step keeps the plain ``<key>`` names.

A policy that can continue given actions (Diffusion Policy, by inpainting) says so in WELCOME; a
robot asked to (``send_prefix``) then adds ``prefix``: the actions it will execute anyway while this
request is answered (the current chunk's next steps), so the new chunk starts with them and
continues them instead of jumping to another plan mid-motion.

Camera frames travel at the policy's input size (WELCOME's ``image_size``): the robot fits them
exactly as the policy does locally (scale to cover, center crop), so the server sees the pixels a
local rollout would feed the policy, at a fraction of the camera's bytes.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bricobot.cameras.resize import fit_frame
from bricobot.errors import BricobotError
from bricobot.policies.base import (
    ACTION_KEY,
    IMAGE_PREFIX,
    STATE_KEY,
    FeatureConfig,
    is_image_key,
)
from bricobot.runtime.remote.images import decode_image, encode_image
from bricobot.runtime.remote.wire import Blob, Frame, WireError, raw_blob

#: Limits on a feature spec from the peer.
MAX_FEATURES = 32
MAX_NAMES = 256
#: Most observation steps a policy may ask for (Diffusion Policy uses 2).
MAX_OBS_STEPS = 16
#: Largest frame side a WELCOME may ask the robot to fit frames to.
MAX_IMAGE_SIDE = 4096
#: The OBSERVATION blob holding the actions the robot executes while the chunk is on its way.
PREFIX_BLOB = "prefix"


class Kind(enum.IntEnum):
    HELLO = 1
    WELCOME = 2
    OBSERVATION = 3
    CHUNK = 4
    ERROR = 5


class RemoteError(BricobotError):
    """The policy server refused the robot, or the robot side cannot go on; says what to do."""


class RemoteAuthError(RemoteError):
    """The server refused the token."""


class RemoteUnavailableError(RemoteError):
    """The server cannot be reached, or stopped answering for longer than ``remote_outage_s``."""


@dataclass
class Hello:
    token: str
    robot_type: str
    features: dict[str, FeatureConfig]
    time_s: float


@dataclass
class Welcome:
    policy_type: str
    features: dict[str, FeatureConfig]
    chunk_size: int
    time_s: float
    #: The checkpoint's temporal-ensembling coefficient (ACT), None when it executes chunks.
    ensemble_coeff: float | None = None
    #: Observations per request: the last ``n_obs_steps`` control steps, oldest first.
    n_obs_steps: int = 1
    #: The policy continues a ``prefix`` of actions sent with the observation (Diffusion).
    continues_prefix: bool = False
    #: The policy's input frame size ``(h, w)``: the robot fits frames to it before sending;
    #: None: frames travel at the camera's size.
    image_size: tuple[int, int] | None = None


@dataclass
class Chunk:
    """Actions ``(n, A)`` computed from the observation the robot stamped ``obs_time_s``."""

    seq: int
    obs_time_s: float
    actions: np.ndarray
    infer_s: float


def now_s() -> float:
    return time.monotonic()


def features_to_json(features: Mapping[str, FeatureConfig]) -> dict[str, Any]:
    return {k: {"shape": list(f.shape), "names": list(f.names)} for k, f in features.items()}


def features_from_json(obj: Any) -> dict[str, FeatureConfig]:
    """A peer's feature spec, type-checked entry by entry."""
    if not isinstance(obj, dict) or len(obj) > MAX_FEATURES:
        raise WireError(f"'features' must be an object of at most {MAX_FEATURES} entries")
    out: dict[str, FeatureConfig] = {}
    for key, value in obj.items():
        shape = value.get("shape") if isinstance(value, dict) else None
        names = value.get("names", []) if isinstance(value, dict) else None
        if (
            not isinstance(shape, list)
            or not 0 < len(shape) <= 4
            or not all(type(s) is int and 0 < s <= 1 << 16 for s in shape)
            or not isinstance(names, list)
            or len(names) > MAX_NAMES
            or not all(isinstance(n, str) and len(n) <= 200 for n in names)
        ):
            raise WireError(f"feature {str(key)[:60]!r}: needs a shape (positive sizes) and names")
        out[str(key)] = FeatureConfig(shape=shape, names=names)
    return out


def field_of(header: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``header[name]``, refused unless present and of ``kind`` (bool is not an int here)."""
    value = header.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind)):
        raise WireError(f"message field {name!r} is missing or not {_type_names(kind)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(f"message field {name!r} is not finite")
    return value


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _types(kind))


def expect(frame: Frame, kind: Kind) -> None:
    """Refuse a frame of another kind; an ERROR frame becomes the error it reports."""
    if frame.kind == Kind.ERROR:
        raise error_from_frame(frame)
    if frame.kind != kind:
        raise WireError(f"expected a {kind.name} message, got kind {frame.kind}")
    field_of(frame.header, "time_s", (int, float))


def hello_header(token: str, robot_type: str, features: Mapping[str, FeatureConfig]) -> dict:
    return {
        "time_s": now_s(),
        "token": token,
        "robot_type": robot_type,
        "features": features_to_json(features),
    }


def parse_hello(frame: Frame) -> Hello:
    expect(frame, Kind.HELLO)
    h = frame.header
    return Hello(
        token=field_of(h, "token", str),
        robot_type=field_of(h, "robot_type", str)[:100],
        features=features_from_json(h.get("features")),
        time_s=float(h["time_s"]),
    )


def welcome_header(
    policy_type: str,
    features: Mapping[str, FeatureConfig],
    chunk_size: int,
    ensemble_coeff: float | None,
    n_obs_steps: int = 1,
    continues_prefix: bool = False,
    image_size: Sequence[int] | None = None,
) -> dict:
    return {
        "time_s": now_s(),
        "policy_type": policy_type,
        "features": features_to_json(features),
        "chunk_size": chunk_size,
        "ensemble_coeff": ensemble_coeff,
        "n_obs_steps": n_obs_steps,
        "continues_prefix": continues_prefix,
        "image_size": [int(v) for v in image_size] if image_size else None,
    }


def parse_welcome(frame: Frame) -> Welcome:
    expect(frame, Kind.WELCOME)
    h = frame.header
    features = features_from_json(h.get("features"))
    if ACTION_KEY not in features:
        raise WireError("the server's features have no 'action'")
    coeff = h.get("ensemble_coeff")
    n_obs_steps = field_of(h, "n_obs_steps", int) if "n_obs_steps" in h else 1
    if not 1 <= n_obs_steps <= MAX_OBS_STEPS:
        raise WireError(f"n_obs_steps {n_obs_steps} outside 1..{MAX_OBS_STEPS}")
    return Welcome(
        policy_type=field_of(h, "policy_type", str),
        features=features,
        chunk_size=field_of(h, "chunk_size", int),
        time_s=float(h["time_s"]),
        ensemble_coeff=None
        if coeff is None
        else float(field_of(h, "ensemble_coeff", (int, float))),
        n_obs_steps=n_obs_steps,
        continues_prefix="continues_prefix" in h and field_of(h, "continues_prefix", bool),
        image_size=_image_size(h.get("image_size")),
    )


def _image_size(value: Any) -> tuple[int, int] | None:
    """WELCOME's ``image_size``: null, or ``[h, w]`` with 1 <= h, w <= MAX_IMAGE_SIDE."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and 1 <= v <= MAX_IMAGE_SIDE for v in value)
    ):
        raise WireError(f"image_size must be null or [h, w] in 1..{MAX_IMAGE_SIDE}, got {value!r}")
    return int(value[0]), int(value[1])


def observation_header(seq: int, obs_time_s: float, steps: int = 1) -> dict:
    """``obs_time_s``: when the newest of the ``steps`` observations was taken."""
    return {"time_s": now_s(), "seq": seq, "obs_time_s": obs_time_s, "steps": steps}


def chunk_message(seq: int, obs_time_s: float, actions: np.ndarray, infer_s: float) -> tuple:
    """Header and blobs of a CHUNK answering observation ``seq``; ``actions`` is ``(n, A)``."""
    header = {"time_s": now_s(), "seq": seq, "obs_time_s": obs_time_s, "infer_s": infer_s}
    return header, [raw_blob(ACTION_KEY, np.asarray(actions, np.float32))]


def _actions(blob: Blob | None, what: str, action_dim: int, min_steps: int) -> np.ndarray:
    """A raw finite float32 ``(n, action_dim)`` tensor with ``n >= min_steps``, or a WireError."""
    if blob is None or blob.encoding != "raw" or blob.dtype != "float32":
        raise WireError(f"{what} must be a raw float32 tensor")
    if len(blob.shape) != 2 or blob.shape[0] < min_steps or blob.shape[1] != action_dim:
        raise WireError(f"{what} of shape {list(blob.shape)}, expected (n, {action_dim})")
    actions = blob.array()
    if not np.isfinite(actions).all():
        raise WireError(f"{what} holds non-finite values")
    return actions


def parse_prefix(frame: Frame, action_dim: int) -> np.ndarray | None:
    """The OBSERVATION's ``prefix`` ``(d, action_dim)`` — actions the robot executes anyway while
    the chunk is on its way — or None when it sends none."""
    if PREFIX_BLOB not in frame.blobs:
        return None
    return _actions(frame.blobs[PREFIX_BLOB], "the action prefix", action_dim, 0)


def parse_chunk(frame: Frame, action_dim: int) -> Chunk:
    """A CHUNK whose action tensor is finite float32 ``(n, action_dim)`` with n >= 1."""
    expect(frame, Kind.CHUNK)
    actions = _actions(frame.blobs.get(ACTION_KEY), "a CHUNK's 'action'", action_dim, 1)
    return Chunk(
        seq=field_of(frame.header, "seq", int),
        obs_time_s=float(field_of(frame.header, "obs_time_s", (int, float))),
        actions=actions,
        infer_s=float(field_of(frame.header, "infer_s", (int, float))),
    )


def error_header(code: str, message: str) -> dict:
    return {"time_s": now_s(), "code": code, "message": message[:2000]}


def error_from_frame(frame: Frame) -> BricobotError:
    """The exception an ERROR frame from the server stands for."""
    from bricobot.features import FeatureMismatchError

    code = str(frame.header.get("code", ""))[:40]
    message = str(frame.header.get("message", "no message"))[:2000]
    if code == "auth":
        return RemoteAuthError(message)
    if code == "features":
        return FeatureMismatchError(message)
    return RemoteError(f"the policy server refused ({code}): {message}")


def observation_blobs(
    observation: Mapping[str, Any],
    features: Mapping[str, FeatureConfig],
    image_encoding: str,
    jpeg_quality: int = 90,
    step: int | None = None,
    image_size_hw: Sequence[int] | None = None,
) -> list[Blob]:
    """Blobs of a robot observation (``"<joint>.pos"`` values, ``"<camera>"`` frames) for the
    policy inputs in ``features``: ``observation.state`` float32 ``(D,)`` in the policy's name
    order, one image blob per camera; named ``<key>@<step>`` when ``step`` is given. Frames are
    first fit to ``image_size_hw`` (the policy's input size) exactly as the policy would fit them
    locally, so only the pixels it looks at travel."""
    blobs = []
    for key, feature in features.items():
        name = key if step is None else f"{key}@{step}"
        if key == STATE_KEY:
            state = np.array([observation[n] for n in feature.names], np.float32)  # (D,)
            blobs.append(raw_blob(name, state))
        elif is_image_key(key):
            camera = key.removeprefix(IMAGE_PREFIX)
            fitted = fit_frame(np.asarray(observation[camera]), image_size_hw)
            blobs.append(encode_image(name, fitted, image_encoding, jpeg_quality))
    return blobs


def history_blobs(
    history: Sequence[Mapping[str, Any]],
    features: Mapping[str, FeatureConfig],
    image_encoding: str,
    jpeg_quality: int = 90,
    image_size_hw: Sequence[int] | None = None,
) -> list[Blob]:
    """Blobs of consecutive observations, oldest first (one observation: the plain names)."""
    steps: list[int | None] = [None] if len(history) == 1 else list(range(len(history)))
    return [
        blob
        for t, observation in zip(steps, history, strict=True)
        for blob in observation_blobs(
            observation, features, image_encoding, jpeg_quality, t, image_size_hw
        )
    ]


def parse_observation(
    frame: Frame,
    features: Mapping[str, FeatureConfig],
    max_steps: int = 1,
    image_size_hw: Sequence[int] | None = None,
) -> tuple[int, float, dict[str, np.ndarray]]:
    """``(seq, obs_time_s, inputs)`` of an OBSERVATION: every policy input present, with the shape
    of its feature (state finite float32 ``(D,)``, images uint8 ``(H, W, 3)``), stacked to
    ``(steps, ...)`` (oldest first) when it holds ``1 < steps <= max_steps`` observations."""
    expect(frame, Kind.OBSERVATION)
    seq = field_of(frame.header, "seq", int)
    obs_time_s = float(field_of(frame.header, "obs_time_s", (int, float)))
    steps = field_of(frame.header, "steps", int) if "steps" in frame.header else 1
    if not 1 <= steps <= max_steps:
        raise WireError(f"an observation of {steps} steps; this policy takes 1 to {max_steps}")
    inputs: dict[str, np.ndarray] = {}
    for key, feature in features.items():
        if key == ACTION_KEY:
            continue
        if steps == 1:
            inputs[key] = _input(frame, key, key, feature, image_size_hw)
        else:
            frames = [
                _input(frame, f"{key}@{t}", key, feature, image_size_hw) for t in range(steps)
            ]
            if len({f.shape for f in frames}) > 1:
                raise WireError(f"the frames of {key!r} differ in size between steps")
            inputs[key] = np.stack(frames)  # (steps, ...)
    return seq, obs_time_s, inputs


def _input(
    frame: Frame,
    name: str,
    key: str,
    feature: FeatureConfig,
    image_size_hw: Sequence[int] | None = None,
) -> np.ndarray:
    """One policy input from blob ``name``, checked against ``feature``; a frame may come at the
    camera's size or already fit to the policy's ``image_size_hw``."""
    blob = frame.blobs.get(name)
    if blob is None:
        raise WireError(f"the observation has no {name!r}")
    if is_image_key(key):
        fitted = (*(int(v) for v in image_size_hw), 3) if image_size_hw else None
        declared = tuple(blob.shape)
        return decode_image(blob, fitted if fitted and declared == fitted else tuple(feature.shape))
    if blob.encoding != "raw" or blob.dtype != "float32" or list(blob.shape) != feature.shape:
        raise WireError(f"{name!r} must be raw float32 {feature.shape}, got {list(blob.shape)}")
    value = blob.array().copy()  # writable, as torch wants
    if not np.isfinite(value).all():
        raise WireError(f"{name!r} holds non-finite values")
    return value
