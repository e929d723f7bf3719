"""The policy registry: name → config dataclass + implementation, imported lazily.

Add an entry here for each new policy; the contract test in tests/test_registries.py walks them all.
Each config dataclass has a type field whose default is its name in this dict.
"""

from __future__ import annotations

from bricobot.registry import RegistryEntry

POLICIES: dict[str, RegistryEntry] = {
    "act": RegistryEntry(
        config="bricobot.policies.act.config:ACTConfig",
        impl="bricobot.policies.act.model:ACT",
        help="Action Chunking with Transformers (Zhao et al. 2023)",
    ),
    "diffusion": RegistryEntry(
        config="bricobot.policies.diffusion.config:DiffusionConfig",
        impl="bricobot.policies.diffusion.model:DiffusionPolicy",
        help="Diffusion Policy with a 1D conditional U-Net (Chi et al. 2023)",
    ),
}
