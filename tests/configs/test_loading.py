"""Plain-data → dataclass conversion used for checkpoints and dataset metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bricobot.configs.loading import ConfigError, from_dict, to_dict


@dataclass
class Inner:
    size: int = 3
    scale: float = 1.0


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    dims: tuple[int, ...] = (1, 2)
    tags: list[str] = field(default_factory=list)
    limit: float | None = None


def test_round_trip_through_plain_data() -> None:
    original = Outer(
        name="y", inner=Inner(size=5, scale=2.5), dims=(4, 5, 6), tags=["a"], limit=2.0
    )
    assert from_dict(Outer, to_dict(original)) == original


def test_ints_become_floats_and_lists_become_tuples() -> None:
    cfg = from_dict(Outer, {"inner": {"scale": 2}, "dims": [7, 8]})
    assert cfg.inner.scale == 2.0 and isinstance(cfg.inner.scale, float)
    assert cfg.dims == (7, 8)


def test_unknown_key_lists_valid_keys_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"'sise'.*inner.*valid keys: scale, size"):
        from_dict(Outer, {"inner": {"sise": 4}})


def test_non_mapping_is_rejected() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_dict(Outer, {"inner": 3})
