"""Plain-data → dataclass conversion used for checkpoints and dataset metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bricobot.loading import ConfigError, from_dict, to_dict


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


@dataclass
class Training:
    steps: int = 10
    lr: float = 1e-4
    amp: bool = True
    device: str = "auto"
    sizes: dict[str, int] = field(default_factory=dict)
    shape: tuple[int, int] = (1, 2)


@dataclass
class Needs:
    root: str
    steps: int = 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": "many"}, "steps: expected an integer, got 'many'"),
        ({"steps": True}, "steps: expected an integer, got True"),
        ({"steps": 1.5}, "steps: expected an integer, got 1.5"),
        ({"lr": "fast"}, "lr: expected a number, got 'fast'"),
        ({"amp": "yes"}, "amp: expected true or false, got 'yes'"),
        ({"device": 0}, "device: expected a string, got 0"),
        ({"sizes": {"a": "b"}}, r"sizes.a: expected an integer, got 'b'"),
        ({"sizes": [1]}, "sizes: expected a mapping"),
        ({"shape": [1, 2, 3]}, "shape: expected 2 values, got 3"),
        ({"shape": 4}, "shape: expected a list, got 4"),
    ],
)
def test_wrong_types_are_errors_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(Training, data)


def test_nested_wrong_type_names_the_dotted_path() -> None:
    with pytest.raises(ConfigError, match=r"inner.size: expected an integer, got 'big'"):
        from_dict(Outer, {"inner": {"size": "big"}})
    with pytest.raises(ConfigError, match=r"tags\[1\]: expected a string, got 3"):
        from_dict(Outer, {"tags": ["a", 3]})


def test_missing_values_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="root: missing value"):
        from_dict(Needs, {"steps": 2})
    with pytest.raises(ConfigError, match="root: missing value"):
        from_dict(Needs, {"root": "???"})


def test_optional_and_ints_for_floats_still_load() -> None:
    cfg = from_dict(Outer, {"limit": None, "inner": {"scale": 3}})
    assert cfg.limit is None and cfg.inner.scale == 3.0
    assert from_dict(Training, {"lr": 1, "sizes": {"a": 2}}).lr == 1.0
