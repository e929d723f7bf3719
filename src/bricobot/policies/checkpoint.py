"""Policy checkpoints (a directory: ``config.json`` + ``model.safetensors``) and feature checks.

Every command takes a checkpoint the same way, resolved by :func:`resolve_checkpoint`: a training
run (``outputs/train/<time>``), its ``checkpoints/`` folder, one step (``checkpoints/004000`` or
``checkpoints/last``), or the ``pretrained_model`` folder itself.

``config.json`` holds the policy type, its full config (feature spec included) and the bricobot
version; ``model.safetensors`` holds the weights and the normalization statistics. Loading never
unpickles anything, rejects unknown config keys, and refuses weights that disagree with the
feature spec, each time with a message naming the file and the feature.

:func:`check_features` compares a policy's features with a robot's or env's by name, before
anything moves, and refuses any mismatch with a diff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import bricobot
from bricobot.errors import BricobotError
from bricobot.features import ACTION_KEY, IMAGE_PREFIX, STATE_KEY, FeatureSet
from bricobot.loading import ConfigError, from_dict, to_dict
from bricobot.policies.base import (
    FeatureConfig,
    Policy,
    PolicyConfig,
    feature_configs,
    feature_set,
)
from bricobot.policies.normalize import Normalizer
from bricobot.policies.registry import POLICIES
from bricobot.registry import lookup

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CHECKPOINT_FORMAT = 1
#: The layout a training run writes: ``<run>/checkpoints/<step or last>/pretrained_model/``.
CHECKPOINTS_DIR = "checkpoints"
LAST_DIR = "last"
PRETRAINED_DIR = "pretrained_model"


class CheckpointError(BricobotError):
    """A checkpoint directory cannot be loaded; the message names the file and the problem."""


def make_policy(config: PolicyConfig, stats: Mapping[str, Any] | None = None) -> Policy:
    """Build the policy named by ``config.type``; copy dataset ``stats`` into its normalizers."""
    entry = lookup(POLICIES, "policy", config.type)
    if not isinstance(config, entry.config_class()):
        raise TypeError(f"policy {config.type!r} expects {entry.config_class().__name__}")
    policy: Policy = entry.impl_class()(config)
    if stats is not None:
        for module in policy.modules():
            if isinstance(module, Normalizer):
                module.set_stats(stats)
    return policy


def save_policy(policy: Policy, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created) and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "bricobot_version": bricobot.__version__,
        "policy_type": policy.config.type,
        "config": to_dict(policy.config),
        **(extra or {}),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items()}
    tmp_weights = directory / (WEIGHTS_NAME + ".tmp")
    save_file(state, str(tmp_weights), metadata={"format": str(CHECKPOINT_FORMAT)})
    tmp_weights.replace(directory / WEIGHTS_NAME)
    tmp_config = directory / (CONFIG_NAME + ".tmp")
    tmp_config.write_text(json.dumps(meta, indent=2) + "\n")
    tmp_config.replace(directory / CONFIG_NAME)
    return directory


def resolve_checkpoint(path: str | Path) -> Path:
    """The ``pretrained_model`` directory (the one holding ``config.json``) that ``path`` names.

    ``path`` may be that directory, a step (``checkpoints/004000``, ``checkpoints/last``), the
    ``checkpoints/`` folder or the run folder (both mean ``last``), so the path ``train`` prints and
    the README's ``outputs/train/<time>/checkpoints/last`` work in every command.
    """
    root = Path(path)
    candidates = [
        root,
        root / PRETRAINED_DIR,
        root / LAST_DIR / PRETRAINED_DIR,
        root / CHECKPOINTS_DIR / LAST_DIR / PRETRAINED_DIR,
    ]
    for candidate in candidates:
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    looked = ", ".join(str(c / CONFIG_NAME) for c in candidates)
    where = "does not exist" if not root.exists() else "is not a checkpoint"
    raise CheckpointError(
        f"{root} {where}: no {CONFIG_NAME} at any of {looked}; give a training run "
        f"(outputs/train/<time>), its {CHECKPOINTS_DIR}/ folder, a step ({CHECKPOINTS_DIR}/004000 "
        f"or {CHECKPOINTS_DIR}/{LAST_DIR}) or its {PRETRAINED_DIR} folder"
    )


def read_policy_config(directory: str | Path) -> PolicyConfig:
    """The typed policy config of the checkpoint at ``directory`` (see :func:`resolve_checkpoint`);
    unknown keys are errors."""
    path = resolve_checkpoint(directory) / CONFIG_NAME
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}): the checkpoint is damaged; use another step "
            f"(another {CHECKPOINTS_DIR}/<step> folder of the run) or train again"
        ) from exc
    policy_type = meta.get("policy_type")
    if policy_type not in POLICIES:
        raise CheckpointError(
            f"{path}: unknown policy_type {policy_type!r}; known: {', '.join(sorted(POLICIES))}"
        )
    if int(meta.get("format", CHECKPOINT_FORMAT)) > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {meta['format']} is newer than this bricobot "
            f"({bricobot.__version__}) reads; upgrade bricobot"
        )
    try:
        config: PolicyConfig = from_dict(POLICIES[policy_type].config_class(), meta["config"])
    except (ConfigError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: invalid policy config: {exc}") from exc
    return config


def load_policy(directory: str | Path, device: str | torch.device = "cpu") -> Policy:
    """Load a policy from a checkpoint (any path :func:`resolve_checkpoint` accepts), checking the
    weights against the feature spec."""
    check_device(device)
    directory = resolve_checkpoint(directory)
    config = read_policy_config(directory)
    weights_path = directory / WEIGHTS_NAME
    if not weights_path.is_file():
        raise CheckpointError(
            f"{weights_path} not found: the checkpoint is incomplete; use another step (another "
            f"{CHECKPOINTS_DIR}/<step> folder of the run) or train again"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{weights_path} is corrupt or not a safetensors file ({exc}): use another step "
            f"(another {CHECKPOINTS_DIR}/<step> folder of the run), or save the policy again"
        ) from exc
    policy = make_policy(config)
    expected = policy.state_dict()
    problems = _state_problems(expected, state)
    if problems:
        raise CheckpointError(
            f"{directory}: {CONFIG_NAME} and {WEIGHTS_NAME} disagree: " + "; ".join(problems)
        )
    policy.load_state_dict(state, strict=True)
    return policy.to(device)


def check_device(device: str | torch.device) -> None:
    """Refuse a CUDA device when torch sees no GPU (torch's own error names neither the setting
    nor the fix)."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise BricobotError(
            f"device={device} but no CUDA GPU is visible to torch: use device=cpu, or install "
            "the CUDA build of torch"
        )


def _state_problems(
    expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]
) -> list[str]:
    problems = []
    for key in sorted(set(expected) - set(found)):
        problems.append(f"missing in weights: {key}{_feature_hint(key)}")
    for key in sorted(set(found) - set(expected)):
        problems.append(f"not in the config: {key}{_feature_hint(key)}")
    for key in sorted(set(found) & set(expected)):
        if tuple(found[key].shape) != tuple(expected[key].shape):
            problems.append(
                f"shape of {key}{_feature_hint(key)}: weights {tuple(found[key].shape)}, "
                f"config {tuple(expected[key].shape)}"
            )
    return problems


def _feature_hint(key: str) -> str:
    for feature in (STATE_KEY, ACTION_KEY):
        if feature.replace(".", "_") in key:
            return f" (feature {feature!r})"
    flat = IMAGE_PREFIX.replace(".", "_")
    if flat in key:
        camera = key.split(flat, 1)[1].split(".", 1)[0]
        return f" (feature '{IMAGE_PREFIX}{camera}')"
    return ""


# ---------------------------------------------------------------- feature checks


def boundary_features(
    observation_features: Mapping[str, Any], action_features: Mapping[str, Any]
) -> dict[str, FeatureConfig]:
    """A Robot's ``observation_features``/``action_features`` as policy feature configs
    (:meth:`bricobot.features.FeatureSet.from_robot`)."""
    return feature_configs(FeatureSet.from_robot(observation_features, action_features))


def check_features(
    policy_features: Mapping[str, FeatureConfig],
    available: Mapping[str, FeatureConfig],
    what: str = "env",
) -> None:
    """Refuse a policy whose features differ from the robot's/env's, with a diff by name
    (:meth:`bricobot.features.FeatureSet.check_fits`)."""
    feature_set(policy_features).check_fits(feature_set(available), what)
