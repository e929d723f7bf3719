"""Plain-dict registries with lazy entries.

Each pluggable kind (robot, camera, teleoperator, policy, env task) keeps one ``dict`` from a name
to a :class:`RegistryEntry`: the import path of its dataclass config and of its implementation.
Nothing is imported until an entry is used, so listing choices stays cheap and optional
dependencies stay optional. There are no if/elif chains over names anywhere.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegistryEntry:
    """One registered implementation: ``"module:Class"`` paths and a one-line description."""

    config: str
    impl: str
    help: str = ""

    def config_class(self) -> type:
        return load_object(self.config)

    def impl_class(self) -> type:
        return load_object(self.impl)


def load_object(path: str) -> Any:
    """Import ``"package.module:Attr"`` and return the attribute."""
    module_name, sep, attr = path.partition(":")
    if not sep or not attr:
        raise ValueError(f"registry path {path!r} must look like 'package.module:Attr'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ImportError(
            f"{module_name} has no attribute {attr!r} (registry path {path!r})"
        ) from exc


def lookup(registry: dict[str, RegistryEntry], kind: str, name: str) -> RegistryEntry:
    """Return the entry for ``name`` or raise a ``KeyError`` that lists the valid names."""
    try:
        return registry[name]
    except KeyError:
        choices = ", ".join(sorted(registry)) or "(none registered)"
        raise KeyError(f"unknown {kind} {name!r}; valid choices: {choices}") from None


def make(registry: dict[str, RegistryEntry], kind: str, config: Any, **kwargs: Any) -> Any:
    """Build the implementation named by ``config.type`` from its typed config."""
    name = getattr(config, "type", None)
    if not isinstance(name, str):
        raise TypeError(f"{kind} config {config!r} has no string field 'type'")
    entry = lookup(registry, kind, name)
    expected = entry.config_class()
    if not isinstance(config, expected):
        raise TypeError(
            f"{kind} {name!r} expects a {expected.__name__}, got {type(config).__name__}"
        )
    return entry.impl_class()(config, **kwargs)
