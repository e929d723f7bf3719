"""Runs one ``bricobot <command>`` as a Hydra app over a dataclass schema.

Hydra's compose API assembles ``hydra_configs/<command>.yaml`` (shipped inside the package) with the
user's overrides, the result is checked key by key and converted to the command's dataclass, and
the command receives a typed object. ``--help`` prints the composed config and the preset choices.
Unknown keys and unknown presets fail with the valid choices listed. The effective config is
written as ``config.yaml`` next to the command's outputs.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bricobot.cli.config_store import GROUPS, register_schemas
from bricobot.errors import one_line

T = TypeVar("T")


class CommandLineError(ValueError):
    """The command line named a key or preset that does not exist; the message lists the choices."""


def config_dir() -> Path:
    """Absolute path of the YAML presets shipped in the package (``bricobot.hydra_configs``)."""
    return Path(str(resources.files("bricobot.hydra_configs")))


def compose_config(config_name: str, schema: type | None, overrides: Sequence[str]) -> DictConfig:
    """Compose ``<config_name>.yaml`` over ``schema`` with Hydra overrides, checking every key."""
    register_schemas()
    if schema is not None:
        ConfigStore.instance().store(name=f"{config_name}_schema", node=schema)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        try:
            plain, overrides = _split_plain_values(schema, overrides)
            group_overrides = [o for o in overrides if _override_key(o) in GROUPS]
            base = compose(config_name=config_name, overrides=group_overrides)
            for override in overrides:
                if override in group_overrides or override.startswith(("+", "~")):
                    continue
                _check_key(base, _override_key(override))
            cfg = compose(config_name=config_name, overrides=list(overrides))
            for key, value in plain.items():
                cfg[key] = value
        except (HydraException, OmegaConfBaseException) as exc:
            raise CommandLineError(_explain(exc, overrides)) from None
    return cfg


def to_typed(cfg: DictConfig, schema: type[T]) -> T:
    """Convert a composed config into the command's dataclass (nested dataclasses included)."""
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        raise CommandLineError(_explain(exc)) from None
    except ValueError as exc:  # a config's __post_init__ rejected a value
        raise CommandLineError(str(exc)) from None
    if not isinstance(obj, schema):
        raise TypeError(f"composed config is {type(obj).__name__}, expected {schema.__name__}")
    return obj


def run_command(
    name: str,
    schema: type[T],
    run: Callable[[T], int | None],
    argv: Sequence[str],
    description: str,
    config_name: str | None = None,
) -> int:
    """Entry point shared by every command: help, composition, typed config, run, exit code."""
    config_name = config_name or name.replace("-", "_")
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(name, schema, config_name, description, [a for a in argv if a[0] != "-"]))
        return 0
    try:
        cfg = compose_config(config_name, schema, argv)
        typed = to_typed(cfg, schema)
    except CommandLineError as exc:
        print(f"bricobot {name}: {one_line(str(exc))}", file=sys.stderr)
        return 2
    output_dir = getattr(typed, "output_dir", None)
    if output_dir is not None:
        if not output_dir:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            output_dir = str(Path("outputs") / name / stamp)
            object.__setattr__(typed, "output_dir", output_dir)
        save_effective_config(typed, Path(output_dir))
    result = run(typed)
    return int(result or 0)


def save_effective_config(config: Any, output_dir: Path) -> Path:
    """Write the effective config as ``config.yaml`` in ``output_dir`` and return its path.

    Secrets (a non-empty value of a key ending in ``token``) are written as ``"***"``.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "config.yaml"
    cfg = OmegaConf.structured(config)
    for key in list(cfg.keys()):
        if str(key).endswith("token") and cfg[key]:
            cfg[key] = "***"
    path.write_text(OmegaConf.to_yaml(cfg))
    return path


def help_text(
    name: str, schema: type, config_name: str, description: str, overrides: Sequence[str]
) -> str:
    """``bricobot <command> --help``: what it does, its composed config, and the preset choices."""
    lines = [f"usage: bricobot {name} [key=value ...] [group=preset ...]", "", description, ""]
    try:
        cfg = compose_config(config_name, schema, overrides)
        lines += ["Effective config (override any key with key=value):", ""]
        lines += ["  " + line for line in OmegaConf.to_yaml(cfg).splitlines()]
    except CommandLineError as exc:
        lines += [f"(config does not compose: {exc})"]
    groups = [g for g in GROUPS if g in preset_fields(schema)]
    if groups:
        lines += ["", "Presets (choose with group=name):"]
        for group in groups:
            lines.append(f"  {group}: {', '.join(preset_names(group)) or '(none)'}")
    return "\n".join(lines)


def preset_names(group: str) -> list[str]:
    """Names of the YAML presets in ``hydra_configs/<group>/``."""
    folder = config_dir() / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def preset_fields(schema: type) -> set[str]:
    """Fields of ``schema`` that a preset fills (``Any = MISSING`` or a nested config).

    A field of the same name as a group that holds a plain value (calibrate's ``robot: so101``,
    a motors.yaml name) is not one of them.
    """
    return {
        f.name
        for f in dataclasses.fields(schema)
        if f.default == "???" or f.default_factory is not dataclasses.MISSING
    }


def _split_plain_values(
    schema: type | None, overrides: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """Split ``name=value`` overrides of plain fields named like a group from the rest.

    Hydra reads ``robot=so101`` as a preset choice whenever a ``robot/`` group exists, also for a
    command whose ``robot`` is a plain string (calibrate, setup-motors), and then fails. Those
    values (also given as ``+robot=…``, as Hydra's error used to suggest) are set on the composed
    config instead; returns ({name: value}, other overrides).
    """
    if schema is None:
        return {}, list(overrides)
    names = set(GROUPS) & ({f.name for f in dataclasses.fields(schema)} - preset_fields(schema))
    parser = OverridesParser.create()
    plain: dict[str, Any] = {}
    rest: list[str] = []
    for override in overrides:
        if not override.startswith("~") and _override_key(override) in names:
            plain[_override_key(override)] = parser.parse_override(override).value()
        else:
            rest.append(override)
    return plain, rest


def _unparsable(overrides: Sequence[str]) -> str | None:
    """The first override Hydra's grammar rejects, if any."""
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_override(override)
        except HydraException:
            return override
    return None


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0].split("@", 1)[0]


def _check_key(cfg: DictConfig, dotted: str) -> None:
    node: Any = cfg
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        # keys() also lists mandatory (???) values, which `in` does not.
        keys = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []  # noqa: SIM118
        if part not in keys:
            where = ".".join(parts[:depth]) or "the top level"
            valid = ", ".join(sorted(keys)) or "(none)"
            raise CommandLineError(
                f"unknown key {dotted!r}: no {part!r} at {where}; valid keys: {valid}"
            )
        if depth < len(parts) - 1:
            node = node[part]


def _explain(exc: Exception, overrides: Sequence[str] = ()) -> str:
    """Hydra's message without its search-path dump or schema entries, plus the underlying cause,
    after the override that does not parse (Hydra's parse errors do not name it)."""
    message = str(exc).split("Config search path:")[0]
    lines = [ln for ln in message.strip().splitlines() if not ln.strip().endswith("_schema")]
    bad = _unparsable(overrides)
    if bad is not None:
        lines.insert(0, f"cannot parse {bad!r}:")
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause) not in message:
        lines.append(str(cause).strip().splitlines()[0])
    return "\n".join(lines)
