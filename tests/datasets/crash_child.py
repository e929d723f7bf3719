"""Child process for the SIGKILL tests: records episodes and kills itself at a chosen point.

``python -m tests.datasets.crash_child ROOT POINT`` where POINT is ``frame:E:I`` (inside add_frame of
episode E, frame I, after the frame went to the encoder), ``replace:N`` (just before the N-th atomic
rename of the run), ``after_save:E`` (right after save_episode of E returned), ``compact:N`` /
``compact_unlink:N`` (N-th rename / deletion inside compact), ``sigint`` (Ctrl-C to the
process group at the last frame of episode 1, then save), or ``none``. Prints ``SAVED E`` after
each save_episode returns. Monkeypatching here is test-only.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

EPISODES = 3
LENGTH = 8


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(root: Path, point: str) -> None:
    from bricobot.datasets import compact as compact_mod
    from bricobot.datasets.encoder import EncoderProcess
    from bricobot.datasets.writer import DatasetWriter
    from tests.fakes.fake_dataset import FPS, make_features, make_frame

    kind, _, arg = point.partition(":")
    counter = {"replace": 0, "unlink": 0}
    real_replace, real_unlink = os.replace, Path.unlink

    def counting_replace(src, dst):  # type: ignore[no-untyped-def]
        counter["replace"] += 1
        if kind == "replace" and counter["replace"] == int(arg):
            die()
        if kind == "compact" and compacting and counter["replace"] == int(arg):
            die()
        return real_replace(src, dst)

    def counting_unlink(self, missing_ok=False):  # type: ignore[no-untyped-def]
        if kind == "compact_unlink" and compacting:
            counter["unlink"] += 1
            if counter["unlink"] == int(arg):
                die()
        return real_unlink(self, missing_ok=missing_ok)

    compacting = False
    os.replace = counting_replace  # type: ignore[assignment]
    Path.unlink = counting_unlink  # type: ignore[method-assign]
    if kind == "frame":
        kill_ep, kill_frame = map(int, arg.split(":"))
        real_put = EncoderProcess.put
        state = {"ep": 0, "frame": 0}

        def put(self, image):  # type: ignore[no-untyped-def]
            real_put(self, image)
            if (state["ep"], state["frame"]) == (kill_ep, kill_frame):
                die()

        EncoderProcess.put = put  # type: ignore[method-assign]

    features = make_features(hw=(48, 64), cameras=("front",))
    writer = DatasetWriter.create(
        root, FPS, features, "fake_arm", codec=os.environ.get("CODEC", "libx264")
    )
    for e in range(EPISODES):
        try:
            for i in range(LENGTH):
                if kind == "frame":
                    state["ep"], state["frame"] = e, i
                writer.add_frame(make_frame(features, e, i), task=f"task {e % 2}")
                if kind == "sigint" and (e, i) == (1, LENGTH - 1):
                    # Ctrl-C in a terminal reaches the whole process group, encoders included.
                    os.killpg(os.getpgrp(), signal.SIGINT)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
        writer.save_episode()
        print(f"SAVED {e}", flush=True)
        if kind == "after_save" and int(arg) == e:
            die()
    writer.close()
    if kind in ("compact", "compact_unlink"):
        counter["replace"] = 0
        compacting = True
        compact_mod.compact(root)
        print("COMPACTED", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
