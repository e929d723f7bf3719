"""Turning plain data (YAML, JSON, dicts) into typed dataclass configs, with errors that help.

The ground floor of config handling: checkpoints, datasets and every package below the CLI load
their configs here, with no Hydra. The CLI (``cli/config_store.py``, ``cli/app.py``) composes YAML
presets with Hydra and hands the result to the same typed dataclasses. Every error names the key
by its dotted path: an unknown key (with the valid ones), a missing value, a value of the wrong
type (``trainer.steps: expected an integer, got 'many'``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

T = TypeVar("T")


class ConfigError(ValueError):
    """A config has an unknown key, a missing key, or a value of the wrong type."""


def from_dict(cls: type[T], data: dict[str, Any], path: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` recursively, rejecting unknown keys with the valid list."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, dict):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = path or cls.__name__
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
            f"valid keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        if value == MISSING:
            raise ConfigError(f"{key}: missing value; set it (e.g. {key}=...)")
        kwargs[name] = _convert(hints.get(name, Any), value, key)
    for name, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and name not in data:
            key = f"{path}.{name}" if path else name
            raise ConfigError(f"{key}: missing value; set it (e.g. {key}=...)")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{path or cls.__name__}: {exc}") from exc


#: Hydra/OmegaConf's marker of a value the user must give.
MISSING = "???"


def _convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` as type ``tp``, or ConfigError naming ``path`` and the type expected."""
    origin = typing.get_origin(tp)
    if tp is Any or isinstance(tp, TypeVar):
        return value
    if origin in (Union, types.UnionType):
        return _convert_union(typing.get_args(tp), value, path)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            allowed = ", ".join(repr(a) for a in typing.get_args(tp))
            raise ConfigError(f"{path}: expected one of {allowed}, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else from_dict(tp, value, path)
    if origin in (tuple, list):
        return _convert_sequence(tp, value, path)
    if origin is dict:
        return _convert_mapping(tp, value, path)
    return _convert_scalar(tp, value, path)


def _convert_union(members: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None and type(None) in members:
        return None
    errors = []
    for member in (m for m in members if m is not type(None)):
        try:
            return _convert(member, value, path)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(
        errors[0] if len(errors) == 1 else f"{path}: {value!r} fits none of {members}"
    )


def _convert_sequence(tp: Any, value: Any, path: str) -> Any:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{path}: expected a list, got {value!r}")
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list:
        arg = args[0] if args else Any
        return [_convert(arg, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if args and len(args) != len(value):
        raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
    return tuple(_convert(args[i] if args else Any, v, f"{path}[{i}]") for i, v in enumerate(value))


def _convert_mapping(tp: Any, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {value!r}")
    args = typing.get_args(tp)
    value_type = args[1] if len(args) == 2 else Any
    return {k: _convert(value_type, v, f"{path}.{k}") for k, v in value.items()}


#: Scalar type → (check, what the error calls it). bool is not an int here: ``steps: true`` is
#: a mistake, not 1.
_SCALARS: dict[type, tuple[Any, str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def _convert_scalar(tp: Any, value: Any, path: str) -> Any:
    check = _SCALARS.get(tp)
    if check is None:
        return value  # a type this loader does not check (e.g. Path-like strings, callables)
    is_ok, expected = check
    if not is_ok(value):
        raise ConfigError(f"{path}: expected {expected}, got {value!r}")
    return float(value) if tp is float else value


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain JSON-able data (tuples become lists)."""
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(config)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
