"""The trainer: exact resume, NaN stops, validation split by episode, checkpoints, DDP equivalence,
stats from the dataset, bounded decoding, and a resumable checkpoint on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from tests.fakes.policy_batches import tiny_act_config, tiny_diffusion_config
from tests.fakes.policy_dataset import training_data, write_dataset
from tests.fakes.policy_ddp import ddp_config, run_worker

from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.video import VideoDecoder
from bricobot.policies.checkpoint import load_policy
from bricobot.training.config import TrainerConfig
from bricobot.training.data import EpochBatchSampler, split_episodes
from bricobot.training.trainer import (
    NonFiniteLossError,
    TrainingInterrupted,
    default_cpu_threads,
    idle_cpus,
    lr_lambda,
    train,
)


def quick(**kw: object) -> TrainerConfig:
    base: dict[str, object] = dict(
        steps=8, log_every=2, val_every=4, save_every=4, progress=False, val_batches=2
    )
    base.update(kw)
    return TrainerConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", episodes=6, length=30)


@pytest.mark.parametrize(
    ("make_cfg", "workers"), [(tiny_act_config, 0), (tiny_diffusion_config, 2)]
)
def test_resume_continues_the_exact_loss_curve(make_cfg, workers, dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = make_cfg(ema_decay=0.9, warmup_steps=2, cosine_decay=True, random_shift_px=2)
    data = training_data(dataset, cfg, num_workers=workers)
    # One thread count for both runs: float sums depend on how the work is split, and the default
    # count follows the machine's load when each run starts.
    full = train(data, quick(num_threads=1), tmp_path / "full")
    resumed = train(
        data,
        quick(num_threads=1),
        tmp_path / "resumed",
        resume_from=tmp_path / "full/checkpoints/000004",
    )
    assert resumed.losses == full.losses[4:]  # bit-identical, not approximately equal
    a = load_policy(tmp_path / "full/checkpoints/last/pretrained_model").state_dict()
    b = load_policy(tmp_path / "resumed/checkpoints/last/pretrained_model").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_outputs_metrics_plot_and_checkpoints(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = train(training_data(dataset, tiny_act_config()), quick(), tmp_path)
    ckpts = tmp_path / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["000004", "000008", "last"]
    assert (ckpts / "last").resolve().name == "000008"
    assert (ckpts / "last/pretrained_model/config.json").is_file()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in records if "loss" in r]
    assert [r["step"] for r in train_recs] == [2, 4, 6, 8]
    assert all(0.0 <= r["data_wait_share"] <= 1.0 for r in train_recs)
    assert {"lr/main", "lr/backbone", "grad_norm", "l1_loss", "kld_loss"} <= set(train_recs[0])
    assert [r["step"] for r in records if "val_loss" in r] == [4, 8]
    assert result.plot_path is not None and result.plot_path.stat().st_size > 1000
    assert result.plot_path.read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_statistics_are_the_datasets_stats_json(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = train(training_data(dataset, tiny_act_config()), quick(steps=2), tmp_path)
    assert result.last_checkpoint is not None
    state = load_policy(result.last_checkpoint / "pretrained_model").state_dict()
    stats = DatasetMeta.load(dataset).stats
    for key, prefix in [
        ("observation.state", "normalize_inputs.stats.observation_state"),
        ("observation.images.front", "normalize_inputs.stats.observation_images_front"),
        ("action", "normalize_targets.stats.action"),
    ]:
        for name in ("mean", "std"):
            expected = torch.as_tensor(np.asarray(stats[key][name]), dtype=torch.float32)
            torch.testing.assert_close(
                state[f"{prefix}.{name}"], expected.reshape(state[f"{prefix}.{name}"].shape)
            )


def test_validation_split_is_by_episode_and_seeded() -> None:
    train_a, val_a = split_episodes(list(range(10)), 0.2, seed=1)
    train_b, val_b = split_episodes(list(range(10)), 0.2, seed=1)
    assert (train_a, val_a) == (train_b, val_b)
    assert len(val_a) == 2 and len(train_a) == 8 and not set(train_a) & set(val_a)
    assert split_episodes([0, 1], 0.0, seed=1) == ([0, 1], [])


def test_training_reads_only_the_held_out_split_for_validation(dataset) -> None:  # type: ignore[no-untyped-def]
    data = training_data(dataset, tiny_act_config(), val_fraction=0.34)
    assert data.val is not None
    assert set(data.train.episodes).isdisjoint(data.val.episodes)
    assert len(data.train) + len(data.val) == 6 * 30


def test_nan_loss_stops_with_step_and_batch(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = training_data(dataset, tiny_act_config())
    data.train._columns["action"][:] = np.nan  # every batch is poisoned; the first one must stop
    with pytest.raises(NonFiniteLossError, match=r"at step 0 \(epoch 0\).*episode, frame"):
        train(data, quick(), tmp_path)


def test_frames_decoded_before_the_first_step_are_one_batch_not_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_dataset(
        tmp_path / "video", episodes=4, length=60, use_videos=True, cameras=("front", "wrist")
    )
    decoded: list[int] = []
    original = VideoDecoder.frames_at

    def counting(self, path, times_s):  # type: ignore[no-untyped-def]
        decoded.append(len(times_s))
        return original(self, path, times_s)

    monkeypatch.setattr(VideoDecoder, "frames_at", counting)
    cfg = tiny_act_config(
        input_features={}, output_features={}, cameras=[], batch_size=4, image_size=[16, 16]
    )
    data = training_data(root, cfg, val_fraction=0.0)
    train(data, quick(steps=1, val_every=0, save_every=0), tmp_path / "run")
    # One batch: 4 samples x 2 cameras x 1 frame; the dataset holds 4 x 60 x 2 = 480 frames.
    assert sum(decoded) == 4 * 2


def test_ctrl_c_saves_a_resumable_checkpoint(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tiny_act_config()
    data = training_data(dataset, cfg)
    # One thread count for all runs (see test_resume_continues_the_exact_loss_curve).
    full = train(data, quick(save_every=0, val_every=0, num_threads=1), tmp_path / "full")

    def interrupt(policy, step):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGINT)
        return {}

    with pytest.raises(TrainingInterrupted) as stop:
        train(
            data,
            quick(save_every=0, val_every=0, eval_every=3, num_threads=1),
            tmp_path / "cut",
            eval_fn=interrupt,
        )
    assert stop.value.step == 3 and stop.value.checkpoint is not None
    assert (stop.value.checkpoint / "training_state").is_dir()
    resumed = train(
        data,
        quick(save_every=0, val_every=0, num_threads=1),
        tmp_path / "resumed",
        resume_from=stop.value.checkpoint,
    )
    assert resumed.losses == full.losses[3:]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_cpu_threads_leave_room_for_another_process() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert default_cpu_threads(data_workers=1) in range(1, cpus + 1)
    assert default_cpu_threads(data_workers=cpus) == 1
    # A process spinning on a core takes that core out of the count.
    spin = "print('spinning', flush=True)\nwhile True: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout is not None and spinner.stdout.readline() == "spinning\n"
        assert idle_cpus() <= cpus - 0.6
        assert default_cpu_threads(data_workers=0) <= max(1, cpus - 1)
    finally:
        spinner.kill()


def test_warmup_then_cosine_schedule() -> None:
    f = lr_lambda(warmup_steps=10, total_steps=110, cosine=True)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0, abs=1e-9)
    assert lr_lambda(0, 100, cosine=False)(50) == 1.0


def test_batches_split_over_processes_cover_the_global_batch() -> None:
    single = EpochBatchSampler(100, 8, seed=2)
    ranks = [EpochBatchSampler(100, 8, seed=2, rank=r, world_size=2) for r in range(2)]
    for n in range(30):  # crosses epoch boundaries
        parts = np.concatenate([s.rows(n) for s in ranks])
        assert sorted(single.rows(n).tolist()) == sorted(parts.tolist())
    epoch0 = np.concatenate([single.rows(n) for n in range(single.batches_per_epoch)])
    assert len(set(epoch0.tolist())) == len(epoch0)  # no frame twice within an epoch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_process_ddp_matches_a_single_process(dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = (2, free_port(), str(tmp_path / "ddp"), str(dataset))
    mp.spawn(run_worker, args=args, nprocs=2, join=True)
    policy_cfg, trainer_cfg = ddp_config()
    single = train(training_data(dataset, policy_cfg), trainer_cfg, tmp_path / "single")
    ddp_losses = [json.loads((tmp_path / f"ddp/losses_{r}.json").read_text()) for r in range(2)]
    # Each process's loss is over its half of the batch; their mean is the global batch's loss.
    mean_losses = np.mean(ddp_losses, axis=0)
    np.testing.assert_allclose(mean_losses, single.losses, rtol=1e-4, atol=1e-5)
    ddp_weights = load_file(str(tmp_path / "ddp/weights.safetensors"))
    assert single.last_checkpoint is not None
    single_weights = load_policy(single.last_checkpoint / "pretrained_model").state_dict()
    for key, value in single_weights.items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=1e-4, atol=1e-5)
