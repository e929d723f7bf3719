"""``validate`` checks everything a reader relies on; ``repair`` fixes what the files can tell it.

Each test damages a copy of a good dataset in one way a reader or a training run would trip on
(or silently misuse), and checks that ``validate`` names it, and that ``repair`` fixes it or says
that it cannot.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bricobot.datasets.metadata import DatasetError, DatasetMeta
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.repair import repair
from bricobot.datasets.validate import sample_episodes, validate
from tests.fakes.fake_dataset import make_features, write_dataset

EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features = make_features(cameras=("front",))
    return write_dataset(tmp_path_factory.mktemp("v") / "ds", [6, 5, 7], features=features)


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "ds"))


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def errors(root: Path) -> str:
    report = validate(root)
    assert not report.ok, report.summary()
    return "\n".join(report.errors)


def test_the_pristine_dataset_passes(pristine: Path) -> None:
    report = validate(pristine)
    assert report.ok, report.summary()


def test_info_json_without_action_is_refused_and_repaired_from_the_data(root: Path) -> None:
    edit_json(root / "meta/info.json", lambda info: info["features"].pop("action"))
    text = errors(root)
    assert "no 'action' feature" in text and "KeyError" in text
    assert "column 'action' that info.json's features lack" in text
    report = repair(root)
    assert any("rebuilt info.json features ['action']" in a for a in report.actions)
    assert validate(root).ok
    ds = BricobotDataset(root)
    assert ds.meta.features["action"]["names"][0] == "shoulder_pan.pos"
    np.testing.assert_array_equal(ds[0]["action"].numpy(), -np.arange(6, dtype=np.float32))


def test_repair_says_what_it_cannot_rebuild(root: Path) -> None:
    """Without the writer's copy of the features in the data files, the lost names stay lost."""
    edit_json(root / "meta/info.json", lambda info: info["features"].pop("action"))
    for path in (root / "data").rglob("*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table.replace_schema_metadata(None), path)
    with pytest.raises(DatasetError) as info:
        repair(root)
    message = str(info.value)
    assert "rebuilt info.json features ['action'] from the data files' columns" in message
    assert "'action' needs 6 distinct names" in message
    assert "restore them from a backup" in message and "rebuilds metadata" not in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f["action"].update(names=["a", "b"]), "'action' needs 6 distinct names"),
        (lambda f: f["observation.state"].update(dtype="int64"), "not float32 or float64"),
        (lambda f: f["action"].update(dtype="float64"), "column 'action' is fixed_size_list"),
        (lambda f: f["observation.images.front"].update(shape=[0, 0, 3]), "has shape (0, 0, 3)"),
        (lambda f: f.pop("observation.state"), "column 'observation.state' that info.json"),
    ],
)
def test_features_that_do_not_describe_the_data_are_errors(
    root: Path, change: Any, expected: str
) -> None:
    edit_json(root / "meta/info.json", lambda info: change(info["features"]))
    assert expected in errors(root)
    repair(root)  # the data files keep a copy of the features: it puts them back
    assert validate(root).ok


def test_stats_json_that_does_not_match_the_data_is_an_error(root: Path) -> None:
    def shift(stats: dict[str, Any]) -> None:
        stats["observation.state"]["mean"] = [m + 50 for m in stats["observation.state"]["mean"]]
        stats["observation.images.front"]["std"] = [[[0.9]]] * 3

    edit_json(root / "meta/stats.json", shift)
    text = errors(root)
    assert "stats.json observation.state: mean differs by up to 50" in text
    assert "stats.json observation.images.front: std differs" in text
    report = repair(root)
    assert any("rewrote" in a and "stats.json" in a for a in report.actions)
    assert validate(root).ok


def test_misshapen_stats_are_an_error(root: Path) -> None:
    edit_json(root / "meta/stats.json", lambda s: s["action"].update(min=[0.0]))
    assert "stats.json action/min has 1 values, the feature has 6" in errors(root)


def test_episode_stats_that_do_not_match_its_data_are_recomputed(root: Path) -> None:
    """A wrong per-episode statistic is caught on the sampled episodes and recomputed by repair."""
    table = pq.read_table(root / EPISODES_FILE)
    rows = table.to_pylist()
    rows[1]["stats/action/max"] = [99.0] * 6
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / EPISODES_FILE)
    text = errors(root)
    assert "episode 1 statistics of action: max differs" in text
    report = repair(root)
    assert any("recomputed the statistics of episode 1 for ['action']" in a for a in report.actions)
    assert validate(root).ok


def test_image_stats_of_an_episode_are_checked_against_its_frames(root: Path) -> None:
    table = pq.read_table(root / EPISODES_FILE)
    rows = table.to_pylist()
    shortest = 1  # validate decodes the shortest sampled episode
    rows[shortest]["stats/observation.images.front/mean"] = [[[0.99]]] * 3
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / EPISODES_FILE)
    assert "episode 1 statistics of observation.images.front: mean differs" in errors(root)
    repair(root)
    assert validate(root).ok


def test_timestamps_off_frame_index_over_fps_are_an_error(root: Path) -> None:
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    doubled = pa.array(table.column("timestamp").to_numpy() * 2, pa.float32())
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", doubled)
    pq.write_table(table, path)
    assert "timestamps in" in errors(root) and "frame_index / fps" in errors(root)


def test_tasks_that_are_not_text_are_an_error_not_a_crash(root: Path) -> None:
    table = pa.table(
        {"task_index": pa.array([0], pa.int64()), "task": pa.array([b"pick \xff"], pa.binary())}
    )
    pq.write_table(table, root / "meta/tasks.parquet")
    report = validate(root)
    assert not report.ok and "not text" in report.errors[0]
    assert "tasks.parquet" in report.summary() and "rebuilds metadata" not in report.summary()


def test_task_index_beyond_the_tasks_is_an_error(root: Path) -> None:
    path = root / "data/chunk-000/file-002.parquet"
    table = pq.read_table(path)
    column = pa.array(np.full(table.num_rows, 5, np.int64))
    table = table.set_column(table.schema.get_field_index("task_index"), "task_index", column)
    pq.write_table(table, path)
    assert "task_index in" in errors(root) and "lists 1 task(s)" in errors(root)


def test_the_stats_sample_spreads_over_the_dataset() -> None:
    assert sample_episodes(3) == [0, 1, 2]
    sample = sample_episodes(1000)
    assert len(sample) == 8 and sample[0] == 0 and sample[-1] == 999


def test_a_meta_load_sees_the_repaired_features(root: Path) -> None:
    edit_json(root / "meta/info.json", lambda info: info["features"].pop("action"))
    repair(root)
    assert "action" in DatasetMeta.load(root).features


def test_a_fps_that_is_not_a_positive_whole_number_is_an_error_not_a_crash(root: Path) -> None:
    edit_json(root / "meta/info.json", lambda info: info.update(fps=0))
    assert "fps is 0, not a positive whole number" in errors(root)
