"""The robot registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new robot; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

ROBOTS: dict[str, RegistryEntry] = {}
