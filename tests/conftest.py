"""Session-wide test settings: GPU tests skip without CUDA; no test downloads anything; the
EEPROM journal is written to a temporary folder."""

from __future__ import annotations

import os
import tempfile

import pytest

# The EEPROM write journal (motors/eeprom_log.py) goes to a throwaway folder, never the user's;
# set before any test (and any subprocess it starts) runs.
os.environ.setdefault("BRICOBOT_STATE_DIR", tempfile.mkdtemp(prefix="bricobot-state-"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items):
        import torch

        if not torch.cuda.is_available():
            skip = pytest.mark.skip(reason="needs a CUDA GPU")
            for item in items:
                if "gpu" in item.keywords:
                    item.add_marker(skip)
