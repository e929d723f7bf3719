"""The trainer: exact resume, NaN stops, validation split by episode, checkpoints, DDP equivalence."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from tests.fakes.policy_batches import random_episodes, tiny_act_config, tiny_diffusion_config
from tests.fakes.policy_ddp import ddp_config, run_worker

from bricobot.policies.checkpoint import load_policy
from bricobot.training.config import TrainerConfig
from bricobot.training.data import GlobalBatchSampler
from bricobot.training.trainer import NonFiniteLossError, lr_lambda, train


def quick(**kw: object) -> TrainerConfig:
    base: dict[str, object] = dict(
        steps=8, log_every=2, val_every=4, save_every=4, progress=False, val_batches=2
    )
    base.update(kw)
    return TrainerConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("make_cfg", [tiny_act_config, tiny_diffusion_config])
def test_resume_continues_the_exact_loss_curve(make_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = random_episodes()
    cfg = make_cfg(ema_decay=0.9, warmup_steps=2, cosine_decay=True)
    full = train(cfg, data, quick(), tmp_path / "full")
    resumed = train(
        cfg, data, quick(), tmp_path / "resumed", resume_from=tmp_path / "full/checkpoints/000004"
    )
    assert resumed.losses == full.losses[4:]  # bit-identical, not approximately equal
    a = load_policy(tmp_path / "full/checkpoints/last/pretrained_model").state_dict()
    b = load_policy(tmp_path / "resumed/checkpoints/last/pretrained_model").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_outputs_metrics_plot_and_checkpoints(tmp_path: Path) -> None:
    result = train(tiny_act_config(), random_episodes(), quick(), tmp_path)
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


def test_validation_split_is_by_episode_and_seeded() -> None:
    data = random_episodes(n_episodes=10)
    train_a, val_a = data.split(0.2, seed=1)
    _, val_b = data.split(0.2, seed=1)
    assert val_a is not None and val_b is not None
    assert val_a.num_episodes == 2 and train_a.num_episodes == 8
    assert np.array_equal(val_a.arrays["action"], val_b.arrays["action"])
    train_rows = {r.tobytes() for r in train_a.arrays["action"]}
    assert not any(r.tobytes() in train_rows for r in val_a.arrays["action"])


def test_nan_loss_stops_with_step_and_batch(tmp_path: Path) -> None:
    data = random_episodes()
    stats = data.split(0.1, 1000)[0].stats()
    data.arrays["action"][:] = np.nan  # every batch is poisoned; the first one must stop training
    with pytest.raises(NonFiniteLossError, match=r"at step 0 \(epoch 0, batch 0\).*episode, frame"):
        train(tiny_act_config(), data, quick(), tmp_path, stats=stats)


def test_warmup_then_cosine_schedule() -> None:
    f = lr_lambda(warmup_steps=10, total_steps=110, cosine=True)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0, abs=1e-9)
    assert lr_lambda(0, 100, cosine=False)(50) == 1.0


def test_batches_split_over_processes_cover_the_global_batch() -> None:
    single = GlobalBatchSampler(100, 8, seed=2)
    ranks = [GlobalBatchSampler(100, 8, seed=2, rank=r, world_size=2) for r in range(2)]
    for _ in range(30):  # crosses epoch boundaries
        rows, epoch, index = single.next()
        parts = [s.next() for s in ranks]
        assert sorted(rows.tolist()) == sorted(np.concatenate([p[0] for p in parts]).tolist())
        assert all((p[1], p[2]) == (epoch, index) for p in parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_process_ddp_matches_a_single_process(tmp_path: Path) -> None:
    mp.spawn(run_worker, args=(2, free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    policy_cfg, trainer_cfg = ddp_config()
    single = train(policy_cfg, random_episodes(), trainer_cfg, tmp_path / "single")  # type: ignore[arg-type]
    ddp_losses = [json.loads((tmp_path / f"ddp/losses_{r}.json").read_text()) for r in range(2)]
    # Each process's loss is over its half of the batch; their mean is the global batch's loss.
    mean_losses = np.mean(ddp_losses, axis=0)
    np.testing.assert_allclose(mean_losses, single.losses, rtol=1e-4, atol=1e-5)
    ddp_weights = load_file(str(tmp_path / "ddp/weights.safetensors"))
    assert single.last_checkpoint is not None
    single_weights = load_policy(single.last_checkpoint / "pretrained_model").state_dict()
    for key, value in single_weights.items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=1e-4, atol=1e-5)
