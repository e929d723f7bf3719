"""Session-wide test settings: GPU tests skip without CUDA; no test downloads anything; the
EEPROM journal is written to a temporary folder."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile

import pytest

# The EEPROM write journal (motors/eeprom_log.py) goes to a throwaway folder, never the user's;
# set before any test (and any subprocess it starts) runs.
if "BRICOBOT_STATE_DIR" not in os.environ:
    os.environ["BRICOBOT_STATE_DIR"] = tempfile.mkdtemp(prefix="bricobot-state-")
    atexit.register(shutil.rmtree, os.environ["BRICOBOT_STATE_DIR"], ignore_errors=True)

# A shell starts a background job (`pytest … &`, nohup, some CI runners) with SIGINT ignored, and
# every process it starts inherits that: the Ctrl-C tests (here and in the commands they start)
# would then wait for an interrupt that never comes. Give SIGINT back its usual meaning.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Hypothesis keeps its files (example database, constants cache) out of the repository: no
# .hypothesis/ at the top level.
try:
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "bricobot-hypothesis"))
except ImportError:  # hypothesis is a dev extra
    pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items):
        import torch

        if not torch.cuda.is_available():
            skip = pytest.mark.skip(reason="needs a CUDA GPU")
            for item in items:
                if "gpu" in item.keywords:
                    item.add_marker(skip)


_REAL_TIME = {getattr(os, name) for name in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, name)}


@pytest.fixture(autouse=True)
def _normal_scheduling():  # type: ignore[no-untyped-def]
    """Fail a test that leaves the test process real-time, and put it back to normal scheduling.

    Run as root, SVT-AV1 makes the thread that opens an encoder SCHED_FIFO 99 for good, and every
    process started from it afterwards inherits that: a real-time Chromium (tests/viewer) once
    livelocked a loaded 2-core machine for 20 minutes. ``datasets.video.thread_scheduling_kept``
    undoes it where bricobot opens encoders; a test that finds another way in fails here (after
    the reset, so the tests after it run normally).
    """
    yield
    if not _REAL_TIME or os.sched_getscheduler(0) not in _REAL_TIME:
        return
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    pytest.fail(
        "the test left the test process under a real-time scheduling policy (SCHED_FIFO/RR; an "
        "SVT-AV1 encoder opened as root outside datasets.video.thread_scheduling_kept?); reset "
        "to normal scheduling"
    )
