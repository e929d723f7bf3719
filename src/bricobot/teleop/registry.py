"""The teleoperator registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new teleoperator; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

TELEOPERATORS: dict[str, RegistryEntry] = {}
