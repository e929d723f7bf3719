"""Policy presets (``hydra_configs/policy/<name>.yaml``) as typed configs, without Hydra.

Used by library code that is not behind the CLI (the demo pipeline, benchmarks). Each preset's
first defaults entry names its schema, ``<policy type>_schema``; the remaining keys override the
config class's defaults, and an unknown key is an error.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bricobot.loading import from_dict
from bricobot.policies.base import PolicyConfig
from bricobot.policies.registry import POLICIES


def preset_dir() -> Path:
    return Path(str(resources.files("bricobot.hydra_configs"))) / "policy"


def preset_names() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def load_preset(name: str, **overrides: Any) -> PolicyConfig:
    """The policy config of preset ``name`` with optional field ``overrides``."""
    path = preset_dir() / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"unknown policy preset {name!r}; presets: {', '.join(preset_names())}")
    data = yaml.safe_load(path.read_text()) or {}
    defaults = data.pop("defaults", [])
    schemas = [d for d in defaults if isinstance(d, str) and d.endswith("_schema")]
    if not schemas:
        raise ValueError(f"{path}: the first defaults entry must be '<policy type>_schema'")
    policy_type = schemas[0].removesuffix("_schema")
    if policy_type not in POLICIES:
        raise ValueError(f"{path}: unknown policy type {policy_type!r}")
    data.update(overrides)
    config: PolicyConfig = from_dict(POLICIES[policy_type].config_class(), data, f"policy/{name}")
    return config
