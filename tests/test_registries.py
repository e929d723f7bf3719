"""Contract test: every registry entry imports, is typed, builds from its preset, and names resolve."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from bricobot.cli.app import compose_config, config_dir
from bricobot.cli.config_store import GROUPS
from bricobot.registry import load_object, lookup

#: What each kind's implementation must subclass.
BASES = {
    "robot": "bricobot.robots.base:Robot",
    "teleop": "bricobot.teleop.base:Teleoperator",
    "camera": "bricobot.cameras.base:Camera",
    "policy": "bricobot.policies.base:Policy",
    "env": "bricobot.envs.task:Task",
}

ENTRIES = [
    pytest.param(group, name, id=f"{group}:{name}")
    for group, registry in GROUPS.items()
    for name in registry
]


@pytest.mark.parametrize(("group", "name"), ENTRIES)
def test_entry_imports_and_is_typed(group: str, name: str) -> None:
    entry = GROUPS[group][name]
    config_cls = entry.config_class()
    assert dataclasses.is_dataclass(config_cls), f"{entry.config} is not a dataclass"
    type_field = {f.name: f for f in dataclasses.fields(config_cls)}.get("type")
    assert type_field is not None, f"{entry.config} has no 'type' field"
    assert type_field.default == name, f"{entry.config}.type defaults to {type_field.default!r}"
    impl = entry.impl_class()
    base = load_object(BASES[group])
    assert issubclass(impl, base), f"{entry.impl} does not subclass {BASES[group]}"
    assert entry.help, f"{group} {name!r} has no help line"


@pytest.mark.parametrize(("group", "name"), ENTRIES)
def test_schema_is_hydra_compatible(group: str, name: str) -> None:
    # Every config must survive OmegaConf's structured-config checks (the CLI relies on them).
    node = OmegaConf.structured(GROUPS[group][name].config_class())
    assert node.type == name


PRESETS = [
    pytest.param(group, path.stem, id=f"{group}/{path.stem}")
    for group in GROUPS
    for path in sorted((config_dir() / group).glob("*.yaml"))
]


@pytest.mark.parametrize(("group", "preset"), PRESETS)
def test_every_preset_composes_into_its_registered_config(group: str, preset: str) -> None:
    cfg = compose_config(f"{group}/{preset}", None, [])
    node = cfg.get(group, cfg)
    entry = lookup(GROUPS[group], group, str(node.type))
    typed = OmegaConf.to_object(node)
    assert isinstance(typed, entry.config_class())


@pytest.mark.parametrize("group", list(GROUPS))
def test_unknown_name_lists_the_choices(group: str) -> None:
    with pytest.raises(KeyError, match="valid choices"):
        lookup(GROUPS[group], group, "no-such-thing")
