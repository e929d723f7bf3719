"""Fixtures of the viewer tests: a video dataset and a headless browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.policy_dataset import write_dataset
from tests.viewer.helpers import CAMERAS, CHROMIUM_ARGS, EPISODES, LENGTH, chromium_path


@pytest.fixture(scope="session")
def video_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 episodes of 3 s at 30 fps, two cameras stored as AV1 video (the writer's default)."""
    root = tmp_path_factory.mktemp("viewer") / "reach"
    return write_dataset(root, EPISODES, LENGTH, use_videos=True, cameras=CAMERAS)


@pytest.fixture
def dataset_copy(video_dataset: Path, tmp_path: Path) -> Path:
    """A copy a test may damage."""
    return Path(shutil.copytree(video_dataset, tmp_path / "copy"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; skipped only where no browser is installed."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine: apt-get install -y chromium (see .ci/run)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
