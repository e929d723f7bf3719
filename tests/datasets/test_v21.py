"""LeRobot v2.1 datasets (per-episode files, JSON-lines metadata) read like v3.0 ones."""

from __future__ import annotations

import numpy as np
import torch

from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.validate import validate
from tests.fakes.fake_dataset import FPS, image_value, state_value
from tests.fakes.v21_dataset import write_v21_dataset


def test_reads_v21(tmp_path) -> None:
    root = write_v21_dataset(tmp_path / "v21", [5, 7])
    ds = BricobotDataset(root, delta_timestamps={"action": [0, 1 / FPS]})
    assert ds.meta.version == "v2.1" and len(ds) == 12 and ds.meta.tasks == ["pick"]
    item = ds[6]  # episode 1, frame 1
    assert int(item["episode_index"]) == 1 and int(item["frame_index"]) == 1
    np.testing.assert_array_equal(item["observation.state"].numpy(), state_value(1, 1))
    assert torch.equal(
        item["action"], torch.from_numpy(-np.stack([state_value(1, 1), state_value(1, 2)]))
    )
    grey = item["observation.images.front"].mean().item() * 255
    assert abs(grey - image_value(1, 1, 0)) < 3
    assert ds.meta.stats["observation.state"]["mean"].shape == (6,)
    assert validate(root).ok
