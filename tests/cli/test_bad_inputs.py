"""Nothing silently wrong: every bad input is one line on stderr naming the file, key or device and
the fix, with a consistent exit code (1 error, 2 bad command line, 130 interrupted), and nothing on
disk is lost (the inputs are byte-identical afterwards, checkpoints already saved still load).

Each case runs ``bricobot.cli.main.main([...])`` in-process. ``{ds}``, ``{vds}``, ``{run}``, ``{tmp}``
and ``{out}`` in a case's argv and expected text are a fresh copy of an image dataset, of a video
dataset, of a trained run, the test's folder and an output folder; a setup function may add names.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from tests.fakes.policy_dataset import write_dataset

from bricobot.cli.main import COMMANDS, main

SMALL_ACT = [
    "policy=act_cpu",
    "policy.dim_model=16",
    "policy.dim_feedforward=32",
    "policy.backbone_width=8",
    "policy.chunk_size=4",
    "policy.image_size=[16,16]",
    "policy.batch_size=4",
]
TRAIN = [
    "train",
    *SMALL_ACT,
    "trainer.steps=1",
    "trainer.progress=false",
    "trainer.val_fraction=0",
    "trainer.val_every=0",
    "trainer.save_every_min=0",
    "dataset.num_workers=0",
    "output_dir={out}",
]
TRAIN_DS = [*TRAIN, "dataset.root={ds}"]
RESUME = [*TRAIN_DS, "trainer.steps=3", "resume_from={run}/checkpoints/last"]
EVAL = ["eval", "env=so101_pick_cube", "output_dir={out}"]


# -- the world a case runs in -------------------------------------------------------------------


@dataclass
class World:
    """Fresh copies of the pristine inputs, made on first use, and the names a case may use."""

    tmp: Path
    pristine: dict[str, Path]
    monkeypatch: pytest.MonkeyPatch
    names: dict[str, str] = field(default_factory=dict)
    copied: dict[str, Path] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        if name not in self.copied:
            self.copied[name] = Path(
                shutil.copytree(self.pristine[name], self.tmp / name, symlinks=True)
            )
        return self.copied[name]

    @property
    def ds(self) -> Path:
        return self.path("ds")

    @property
    def vds(self) -> Path:
        return self.path("vds")

    @property
    def run(self) -> Path:
        return self.path("run")

    def fill(self, text: str) -> str:
        world = self

        class Names(dict):  # type: ignore[type-arg]
            def __missing__(self, key: str) -> str:
                if key in world.names:
                    return world.names[key]
                if key == "tmp":
                    return str(world.tmp)
                if key == "out":
                    return str(world.tmp / "out")
                return str(world.path(key))

        return text.format_map(Names())

    def digest(self) -> dict[str, str]:
        """Content hash of every file of every input copied so far."""
        out = {}
        for name, root in self.copied.items():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    rel = f"{name}/{path.relative_to(root)}"
                    out[rel] = hashlib.sha1(path.read_bytes()).hexdigest()
        return out


Setup = Callable[[World], None]


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    expect: tuple[str, ...]
    code: int = 1
    setup: Setup | None = None
    after: Setup | None = None


# -- damage --------------------------------------------------------------------------------------


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def nth_file(root: Path, pattern: str, n: int = 1) -> Path:
    return sorted(root.glob(pattern))[n]


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def truncated_data_parquet(w: World) -> None:
    path = nth_file(w.ds, "data/*/*.parquet")
    truncate(path)
    w.names["file"] = str(path)


def deleted_mp4(w: World) -> None:
    path = nth_file(w.vds, "videos/*/*/*.mp4")
    path.unlink()
    w.names["file"] = str(path)


def truncated_mp4(w: World) -> None:
    path = nth_file(w.vds, "videos/*/*/*.mp4")
    truncate(path)
    w.names["file"] = str(path)


def invalid_info_json(w: World) -> None:
    (w.ds / "meta/info.json").write_text('{"fps": 30, "features": ')


def info_without_action(w: World) -> None:
    edit_json(w.ds / "meta/info.json", lambda d: d["features"].pop("action"))


def info_without_fps(w: World) -> None:
    edit_json(w.ds / "meta/info.json", lambda d: d.pop("fps"))


def info_future_version(w: World) -> None:
    edit_json(w.ds / "meta/info.json", lambda d: d.update(codebase_version="v9.0"))


def info_renamed_joint(w: World) -> None:
    def rename(doc: dict[str, Any]) -> None:
        doc["features"]["action"]["names"][0] = "base_yaw.pos"

    edit_json(w.ds / "meta/info.json", rename)


def deleted_info_json(w: World) -> None:
    (w.ds / "meta/info.json").unlink()


def corrupt_stats_json(w: World) -> None:
    (w.ds / "meta/stats.json").write_text("{ not json")


def deleted_episodes_metadata(w: World) -> None:
    for path in (w.ds / "meta/episodes").rglob("*.parquet"):
        path.unlink()


def deleted_tasks(w: World) -> None:
    (w.ds / "meta/tasks.parquet").unlink()


def data_without_action_column(w: World) -> None:
    path = nth_file(w.ds, "data/*/*.parquet", 0)
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["action"]), path)
    w.names["file"] = str(path)


def episode_length_off_by_one(w: World) -> None:
    path = nth_file(w.ds, "meta/episodes/*/*.parquet", 0)
    table = pq.read_table(path)
    lengths = table.column("length").to_pylist()
    lengths[0] += 1
    index = table.column_names.index("length")
    table = table.set_column(index, "length", pa.array(lengths, table.schema.field(index).type))
    pq.write_table(table, path)


def duplicated_episode_metadata(w: World) -> None:
    src = nth_file(w.ds, "meta/episodes/*/*.parquet", 0)
    shutil.copy(src, src.parent / "file-999.parquet")


def state_dir(w: World) -> Path:
    return (w.run / "checkpoints/last/training_state").resolve()


def corrupt_state_json(w: World) -> None:
    path = state_dir(w) / "state.json"
    path.write_text(path.read_text()[:40])
    w.names["file"] = str(path)


def state_json_without_sampler(w: World) -> None:
    edit_json(state_dir(w) / "state.json", lambda d: d.pop("sampler"))


def corrupt_optimizer(w: World) -> None:
    path = state_dir(w) / "optimizer.safetensors"
    truncate(path)
    w.names["file"] = str(path)


def optimizer_of_another_model(w: World) -> None:
    from safetensors.torch import save_file

    path = state_dir(w) / "optimizer.safetensors"
    save_file({"0.exp_avg": torch.zeros(3)}, str(path))
    w.names["file"] = str(path)


def deleted_training_state(w: World) -> None:
    shutil.rmtree(state_dir(w))


def pretrained(w: World) -> Path:
    return (w.run / "checkpoints/last/pretrained_model").resolve()


def corrupt_config_json(w: World) -> None:
    (pretrained(w) / "config.json").write_text("{")
    w.names["file"] = "pretrained_model/config.json"


def corrupt_weights(w: World) -> None:
    truncate(pretrained(w) / "model.safetensors")
    w.names["file"] = "pretrained_model/model.safetensors"


def unknown_policy_type(w: World) -> None:
    edit_json(pretrained(w) / "config.json", lambda d: d.update(policy_type="transformer9"))


def future_checkpoint_format(w: World) -> None:
    edit_json(pretrained(w) / "config.json", lambda d: d.update(format=99))


def unknown_config_key(w: World) -> None:
    edit_json(pretrained(w) / "config.json", lambda d: d["config"].update(chunk_sise=3))


def a_file(name: str, text: str = "") -> Setup:
    def make(w: World) -> None:
        (w.tmp / name).write_text(text)

    return make


def no_cuda(w: World) -> None:
    w.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def no_disk_space(w: World) -> None:
    import shutil as shutil_module

    usage = shutil_module.disk_usage(w.tmp)
    w.monkeypatch.setattr(shutil_module, "disk_usage", lambda _: usage._replace(free=0))


def disk_full_at_second_checkpoint(w: World) -> None:
    """The disk fills while writing the training state of step 2."""
    from bricobot.training import state

    real = state.save_file

    def save_file(tensors: Any, filename: str, *args: Any, **kwargs: Any) -> None:
        if "000002" in str(filename):
            raise OSError(errno.ENOSPC, "No space left on device", str(filename))
        real(tensors, filename, *args, **kwargs)

    w.monkeypatch.setattr(state, "save_file", save_file)


def disk_full_writing_config(w: World) -> None:
    real = Path.write_text

    def write_text(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "config.yaml":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    w.monkeypatch.setattr(Path, "write_text", write_text)


def sigterm_after_first_step(w: World) -> None:
    from bricobot.training.trainer import _Run

    real = _Run._train_step

    def step(self: Any, batch: Any) -> Any:
        out = real(self, batch)
        signal.raise_signal(signal.SIGTERM)
        return out

    w.monkeypatch.setattr(_Run, "_train_step", step)


def interrupt_while_opening_data(w: World) -> None:
    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    w.monkeypatch.setattr("bricobot.training.data.open_training_data", stop)


def interrupt_while_reading_metadata(w: World) -> None:
    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    w.monkeypatch.setattr("bricobot.datasets.metadata.DatasetMeta.load", stop)


# -- what must still hold afterwards -------------------------------------------------------------


def last_checkpoint_loads(step: str) -> Setup:
    def check(w: World) -> None:
        from bricobot.policies.checkpoint import load_policy

        last = w.tmp / "out/checkpoints/last"
        assert last.resolve().name == step
        load_policy(last)

    return check


def nothing_written(name: str) -> Setup:
    def check(w: World) -> None:
        assert not (w.tmp / name).exists()

    return check


# -- the table -----------------------------------------------------------------------------------

REPAIR = "bricobot dataset repair root={ds}"
VREPAIR = "bricobot dataset repair root={vds}"

TRAIN_CASES = [
    Case("train-truncated-parquet", TRAIN_DS, ("{file}", REPAIR), setup=truncated_data_parquet),
    Case(
        "train-deleted-mp4",
        [*TRAIN, "dataset.root={vds}"],
        ("{file}", "is missing", VREPAIR),
        setup=deleted_mp4,
    ),
    Case(
        "train-truncated-mp4-read-in-a-worker",
        [*TRAIN, "dataset.root={vds}", "dataset.num_workers=1", "trainer.steps=30"],
        ("{file}", "bricobot dataset repair"),
        setup=truncated_mp4,
    ),
    Case(
        "train-invalid-info-json",
        TRAIN_DS,
        ("{ds}/meta/info.json", REPAIR),
        setup=invalid_info_json,
    ),
    Case(
        "train-info-without-action",
        TRAIN_DS,
        ("{ds}/meta/info.json", "'action'", "bricobot dataset validate"),
        setup=info_without_action,
    ),
    Case(
        "train-episode-out-of-range",
        [*TRAIN_DS, "dataset.episodes=[99]"],
        ("[99]", "{ds}", "0…2", "dataset.episodes="),
    ),
    Case(
        "train-negative-episode",
        [*TRAIN_DS, "dataset.episodes=[0,-1]"],
        ("[-1]", "{ds}", "dataset.episodes="),
    ),
    Case(
        "train-corrupt-state-json",
        RESUME,
        ("{file}", "not valid JSON", "resume_from={run}/checkpoints/000001"),
        setup=corrupt_state_json,
    ),
    Case(
        "train-state-json-missing-a-key",
        RESUME,
        ("state.json", "'sampler'", "resume_from="),
        setup=state_json_without_sampler,
    ),
    Case(
        "train-corrupt-optimizer-state",
        RESUME,
        ("{file}", "resume_from="),
        setup=corrupt_optimizer,
    ),
    Case(
        "train-optimizer-state-of-another-model",
        RESUME,
        ("{file}", "resume_from="),
        setup=optimizer_of_another_model,
    ),
    Case(
        "train-resume-from-missing-checkpoint",
        [*TRAIN_DS, "resume_from={tmp}/nope/checkpoints/last"],
        ("{tmp}/nope", "does not exist", "checkpoints/last"),
    ),
    Case(
        "train-resume-without-training-state",
        RESUME,
        ("training_state", "resume_from="),
        setup=deleted_training_state,
    ),
    Case(
        "train-resume-corrupt-config-json",
        RESUME,
        ("{run}/checkpoints/", "{file}", "not valid JSON", "another step"),
        setup=corrupt_config_json,
    ),
    Case(
        "train-resume-corrupt-weights",
        RESUME,
        ("{run}/checkpoints/", "{file}", "safetensors", "another step"),
        setup=corrupt_weights,
    ),
    Case(
        "train-resume-on-another-dataset",
        RESUME,
        ("{ds}", "base_yaw.pos", "resume on the dataset the run started with"),
        setup=info_renamed_joint,
    ),
    Case(
        "train-cuda-without-gpu",
        [*TRAIN_DS, "trainer.device=cuda"],
        ("trainer.device=cuda", "trainer.device=cpu"),
        setup=no_cuda,
    ),
    Case(
        "train-batch-larger-than-dataset",
        [*TRAIN_DS, "trainer.batch_size=1000"],
        ("{ds}", "36 training frames", "batch of 1000", "trainer.batch_size="),
    ),
    Case(
        "train-missing-dataset-folder",
        [*TRAIN, "dataset.root={tmp}/nope"],
        ("{tmp}/nope", "does not exist", "dataset.root"),
    ),
    Case(
        "train-dataset-root-is-a-checkpoint",
        [*TRAIN, "dataset.root={run}"],
        ("{run}", "not a dataset", "dataset.root"),
    ),
    Case(
        "train-unknown-camera",
        [*TRAIN_DS, "policy.cameras=[wrist]"],
        ("observation.images.wrist", "{ds}", "policy.cameras"),
    ),
    Case(
        "train-corrupt-stats-json",
        TRAIN_DS,
        ("{ds}/meta/stats.json", REPAIR),
        setup=corrupt_stats_json,
    ),
    Case(
        "train-no-episodes-metadata",
        TRAIN_DS,
        ("{ds}/meta/episodes", REPAIR),
        setup=deleted_episodes_metadata,
    ),
    Case(
        "train-duplicated-episodes-metadata",
        TRAIN_DS,
        ("appears in both", REPAIR),
        setup=duplicated_episode_metadata,
    ),
    Case(
        "train-deleted-tasks",
        TRAIN_DS,
        ("{ds}/meta/tasks.parquet", "task_index"),
        setup=deleted_tasks,
    ),
    Case(
        "train-data-without-action-column",
        TRAIN_DS,
        ("{file}", "'action'", REPAIR),
        setup=data_without_action_column,
    ),
    Case(
        "train-episode-length-disagrees",
        TRAIN_DS,
        ("rows of episode 0", "13", REPAIR),
        setup=episode_length_off_by_one,
    ),
    Case(
        "train-info-without-fps", TRAIN_DS, ("{ds}/meta/info.json", "'fps'"), setup=info_without_fps
    ),
    Case(
        "train-frame-cache-disk-full",
        [*TRAIN_DS, "dataset.frame_cache=true", "dataset.frame_cache_dir={tmp}/cache"],
        ("{tmp}/cache", "dataset.frame_cache=false"),
        setup=no_disk_space,
    ),
    Case(
        "train-disk-full-at-checkpoint",
        [*TRAIN_DS, "trainer.steps=2", "trainer.save_every=1"],
        ("No space left on device", "{out}/checkpoints/000002", "free"),
        setup=disk_full_at_second_checkpoint,
        after=last_checkpoint_loads("000001"),
    ),
    Case(
        "train-output-dir-is-a-file",
        [*TRAIN_DS, "output_dir={tmp}/afile"],
        ("{tmp}/afile", "File exists"),
        setup=a_file("afile"),
    ),
    Case(
        "train-sigterm-saves-a-resumable-checkpoint",
        [*TRAIN_DS, "trainer.steps=5"],
        ("interrupted at step 1", "resume_from={out}/checkpoints/"),
        code=130,
        setup=sigterm_after_first_step,
        after=last_checkpoint_loads("000001"),
    ),
    Case(
        "train-ctrl-c-while-opening-data",
        TRAIN_DS,
        ("interrupted",),
        code=130,
        setup=interrupt_while_opening_data,
    ),
    Case("train-no-dataset", TRAIN, ("dataset.root=",), code=2),
    Case("train-unknown-preset", ["train", "policy=actt"], ("policy/actt", "act_cpu"), code=2),
    Case("train-unknown-key", [*TRAIN_DS, "trainer.stepz=3"], ("trainer.stepz", "steps"), code=2),
    Case("train-not-a-number", [*TRAIN_DS, "trainer.steps=abc"], ("trainer.steps", "abc"), code=2),
    Case("train-zero-steps", [*TRAIN_DS, "trainer.steps=0"], ("steps must be positive",), code=2),
    Case("train-bad-override-syntax", [*TRAIN_DS, "trainer.steps=[1"], ("trainer.steps",), code=2),
]

DATASET_CASES = [
    Case(
        "dataset-info-missing-folder",
        ["dataset", "info", "root={tmp}/nope"],
        ("{tmp}/nope", "does not exist"),
    ),
    Case(
        "dataset-info-root-is-a-file",
        ["dataset", "info", "root={tmp}/afile"],
        ("{tmp}/afile", "not a folder"),
        setup=a_file("afile"),
    ),
    Case(
        "dataset-info-invalid-info-json",
        ["dataset", "info", "root={ds}"],
        ("{ds}/meta/info.json", REPAIR),
        setup=invalid_info_json,
    ),
    Case(
        "dataset-info-no-info-json",
        ["dataset", "info", "root={ds}"],
        ("{ds}/meta/info.json", REPAIR),
        setup=deleted_info_json,
    ),
    Case(
        "dataset-info-future-version",
        ["dataset", "info", "root={ds}"],
        ("'v9.0'", "v3.0"),
        setup=info_future_version,
    ),
    Case(
        "dataset-edit-episode-out-of-range",
        ["dataset", "edit", "root={ds}", "op=delete", "episodes=[99]", "out={tmp}/new"],
        ("99",),
        after=nothing_written("new"),
    ),
    Case(
        "dataset-edit-out-exists",
        ["dataset", "edit", "root={ds}", "op=delete", "episodes=[0]", "out={vds}"],
        ("{vds}",),
    ),
    Case(
        "dataset-edit-unknown-op",
        ["dataset", "edit", "root={ds}", "op=explode", "out={tmp}/new"],
        ("'explode'", "delete, split, merge, relabel"),
        code=2,
        after=nothing_written("new"),
    ),
    Case(
        "dataset-ctrl-c",
        ["dataset", "info", "root={ds}"],
        ("interrupted",),
        code=130,
        setup=interrupt_while_reading_metadata,
    ),
]

CHECKPOINT_CASES = [
    Case(
        "eval-missing-checkpoint",
        [*EVAL, "policy_path={tmp}/nope"],
        ("{tmp}/nope", "does not exist", "checkpoints/last"),
    ),
    Case(
        "eval-dataset-is-not-a-checkpoint",
        [*EVAL, "policy_path={ds}"],
        ("{ds}", "is not a checkpoint"),
    ),
    Case(
        "eval-corrupt-config-json",
        [*EVAL, "policy_path={run}"],
        ("{run}/checkpoints/", "{file}", "not valid JSON"),
        setup=corrupt_config_json,
    ),
    Case(
        "eval-corrupt-weights",
        [*EVAL, "policy_path={run}"],
        ("{run}/checkpoints/", "{file}", "safetensors"),
        setup=corrupt_weights,
    ),
    Case(
        "eval-unknown-policy-type",
        [*EVAL, "policy_path={run}"],
        ("'transformer9'", "act"),
        setup=unknown_policy_type,
    ),
    Case(
        "eval-newer-checkpoint-format",
        [*EVAL, "policy_path={run}"],
        ("format 99", "upgrade bricobot"),
        setup=future_checkpoint_format,
    ),
    Case(
        "eval-unknown-config-key",
        [*EVAL, "policy_path={run}"],
        ("config.json", "chunk_sise"),
        setup=unknown_config_key,
    ),
    Case(
        "eval-cuda-without-gpu",
        [*EVAL, "policy_path={run}", "device=cuda"],
        ("device=cuda", "device=cpu"),
        setup=no_cuda,
    ),
    Case("eval-no-checkpoint", EVAL, ("policy_path=",), code=2),
    Case(
        "eval-unknown-env", [*EVAL, "env=moon_base"], ("env/moon_base", "so101_pick_cube"), code=2
    ),
    Case(
        "eval-disk-full-writing-config",
        [*EVAL, "policy_path={run}"],
        ("No space left on device", "{out}/config.yaml", "free"),
        setup=disk_full_writing_config,
    ),
]

DEVICE_CASES = [
    Case(
        "virtual-arm-unknown-robot",
        ["virtual-arm", "so999"],
        ("'so999'", "koch", "so101"),
        code=2,
    ),
    Case(
        "virtual-arm-unknown-role",
        ["virtual-arm", "so101", "--role", "boss"],
        ("'boss'", "follower", "leader"),
        code=2,
    ),
    Case(
        "virtual-arm-missing-trajectory",
        ["virtual-arm", "so101", "role=leader", "trajectory={tmp}/nope.npy", "output_dir={out}"],
        ("{tmp}/nope.npy", "trajectory="),
    ),
    Case(
        "calibrate-unknown-robot",
        ["calibrate", "robot=so999", "port=/dev/null"],
        ("so999", "so101"),
    ),
    Case(
        "calibrate-missing-answers-file",
        ["calibrate", "robot=so101", "port=/dev/null", "answers_file={tmp}/answers.yaml"],
        ("{tmp}/answers.yaml", "No such file"),
    ),
    Case(
        "calibrate-answers-file-not-a-mapping",
        ["calibrate", "robot=so101", "port=/dev/null", "answers_file={tmp}/answers.yaml"],
        ("{tmp}/answers.yaml", "mapping"),
        setup=a_file("answers.yaml", "- 1\n- 2\n"),
    ),
    Case("calibrate-compare-one-file", ["calibrate", "compare=[a.json]"], ("two files",), code=2),
    Case(
        "calibrate-compare-missing-file",
        ["calibrate", "compare=[{tmp}/a.json,{tmp}/b.json]"],
        ("{tmp}/a.json", "bricobot calibrate"),
    ),
    Case(
        "calibrate-compare-corrupt-file",
        ["calibrate", "compare=[{tmp}/a.json,{tmp}/a.json]"],
        ("{tmp}/a.json", "not valid JSON"),
        setup=a_file("a.json", "{"),
    ),
    Case("calibrate-no-port", ["calibrate", "robot=so101"], ("port=",), code=2),
    Case("scan-no-port", ["scan"], ("port=", "find-port"), code=2),
    Case("scan-unknown-bus", ["scan", "port=/dev/null", "bus=can"], ("'can'", "feetech"), code=2),
    Case(
        "scan-missing-port",
        ["scan", "port={tmp}/ttyACM9", "baudrates=[1000000]"],
        ("{tmp}/ttyACM9", "does not exist", "bricobot find-port"),
    ),
    Case("setup-motors-no-port", ["setup-motors"], ("port=",), code=2),
    Case(
        "setup-motors-unknown-robot",
        ["setup-motors", "robot=so999", "port=/dev/null", "interactive=false"],
        ("so999", "so101"),
    ),
    Case(
        "replay-missing-dataset",
        ["replay", "robot=so101", "robot.port={tmp}/ttyACM9", "dataset.root={tmp}/nope"],
        ("{tmp}/nope", "does not exist"),
    ),
    Case(
        "replay-episode-out-of-range",
        ["replay", "robot=so101", "dataset.root={ds}", "dataset.episode=99"],
        ("99", "{ds}"),
    ),
    Case(
        "replay-missing-calibration",
        ["replay", "robot=so101", "robot.port={tmp}/ttyACM9", "dataset.root={ds}"],
        ("calibration/so101_follower.json", "bricobot calibrate"),
    ),
    Case(
        "rollout-missing-checkpoint",
        ["rollout", "robot=so101", "robot.port={tmp}/ttyACM9", "policy_path={tmp}/nope"],
        ("{tmp}/nope", "does not exist", "checkpoints/last"),
    ),
    Case("rollout-no-checkpoint", ["rollout", "robot=so101"], ("policy_path=",), code=2),
    Case("unknown-command", ["fly"], ("unknown command 'fly'",), code=2),
]

# The fix lives in motors/bus.py (MotorBus._port_error has no branch for ENOTTY), owned elsewhere.
NOT_A_SERIAL_PORT = Case(
    "scan-regular-file-as-port",
    ["scan", "port={tmp}/afile", "baudrates=[1000000]"],
    ("{tmp}/afile", "not a serial port", "bricobot find-port"),
    setup=a_file("afile"),
)

CASES = [*TRAIN_CASES, *DATASET_CASES, *CHECKPOINT_CASES, *DEVICE_CASES]


# -- running them --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An image dataset, a video dataset (3 episodes × 12 frames each) and a run trained 2 steps
    with a checkpoint at each."""
    base = tmp_path_factory.mktemp("pristine")
    ds = write_dataset(base / "ds", episodes=3, length=12, image_hw=(16, 16))
    vds = write_dataset(base / "vds", episodes=3, length=12, image_hw=(16, 16), use_videos=True)
    argv = [a.format(out=base / "run") for a in TRAIN] + [f"dataset.root={ds}"]
    assert main([*argv, "trainer.steps=2", "trainer.save_every=1"]) == 0
    return {"ds": ds, "vds": vds, "run": base / "run"}


def run_case(
    case: Case, pristine: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[World, int]:
    monkeypatch.delenv("BRICOBOT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    world = World(tmp_path, pristine, monkeypatch)
    argv = [world.fill(a) for a in case.argv]
    if case.setup is not None:
        case.setup(world)
    before = world.digest()
    code = main(argv)
    assert world.digest() == before, "an input changed on disk"
    return world, code


def assert_one_line(case: Case, world: World, code: int, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert len(lines) == 1, err
    command = " ".join(case.argv[:2] if case.argv[0] == "dataset" else case.argv[:1])
    assert lines[0].startswith(f"bricobot {command}:" if case.argv[0] in COMMANDS else "bricobot:")
    for text in case.expect:
        assert world.fill(text) in lines[0], lines[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_naming_the_fix(
    case: Case,
    pristine: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, code = run_case(case, pristine, tmp_path, monkeypatch)
    assert_one_line(case, world, code, capsys.readouterr().err)
    if case.after is not None:
        case.after(world)


def test_a_file_that_is_not_a_serial_port(
    pristine: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, code = run_case(NOT_A_SERIAL_PORT, pristine, tmp_path, monkeypatch)
    assert_one_line(NOT_A_SERIAL_PORT, world, code, capsys.readouterr().err)


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_flag_shows_the_traceback(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BRICOBOT_DEBUG", raising=False)
    argv = ["train", *SMALL_ACT, f"dataset.root={tmp_path}/nope", f"output_dir={tmp_path}/o"]
    code = main(["--debug", *argv] if where == "before" else [*argv, "--debug"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("bricobot train: ")


def test_bricobot_debug_variable_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRICOBOT_DEBUG", "1")
    code = main(["train", *SMALL_ACT, f"dataset.root={tmp_path}/nope", f"output_dir={tmp_path}/o"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback (most recent call last)" in err and "DatasetError" in err


def test_an_unexpected_error_is_one_line_that_names_the_debug_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BRICOBOT_DEBUG", raising=False)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise TypeError("'NoneType' object is not subscriptable")

    monkeypatch.setattr("bricobot.datasets.metadata.DatasetMeta.load", broken)
    code = main(["dataset", "info", f"root={tmp_path}"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert "TypeError" in lines[0] and "--debug" in lines[0] and "BRICOBOT_DEBUG=1" in lines[0]
