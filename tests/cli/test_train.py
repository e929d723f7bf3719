"""``bricobot train`` end to end on a small dataset written by the real writer."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tests.fakes.policy_dataset import training_data, write_dataset

from bricobot.cli.train import main
from bricobot.policies.checkpoint import load_policy
from bricobot.policies.presets import load_preset


def test_training_data_takes_its_features_from_the_dataset(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds", episodes=2, length=10)
    data = training_data(root, load_preset("act_cpu"), val_fraction=0.0)
    assert len(data.train) == 20 and data.val is None
    assert data.config.input_features["observation.images.front"].shape == [32, 32, 3]
    assert data.config.output_features["action"].names[0] == "shoulder_pan.pos"
    item = data.train[0]
    assert item["observation.images.front"].dtype == torch.uint8  # floats are made on the device
    assert tuple(item["observation.images.front"].shape) == (3, 96, 128)  # the preset's image_size


def test_train_command_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds")
    out = tmp_path / "run"
    code = main(
        [
            "policy=act_cpu",
            f"dataset.root={root}",
            "trainer.steps=3",
            "trainer.log_every=1",
            "trainer.val_every=3",
            "trainer.progress=false",
            "policy.batch_size=4",
            "policy.dim_model=32",
            "policy.dim_feedforward=64",
            "policy.backbone_width=8",
            f"output_dir={out}",
        ]
    )
    assert code == 0
    policy = load_policy(out / "checkpoints/last/pretrained_model")
    assert policy.config.type == "act" and policy.config.dim_model == 32
    assert (out / "config.yaml").is_file() and (out / "loss_curve.png").is_file()
    steps = [json.loads(x).get("step") for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert 3 in steps
    obs = {
        "observation.state": torch.zeros(1, 6),
        "observation.images.front": torch.rand(1, 3, 32, 32),
    }
    assert policy.select_action(obs).shape == (1, 6)


def test_unknown_policy_key_is_rejected(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        ["policy=act_cpu", "dataset.root=x", "policy.chunk_sise=3", f"output_dir={tmp_path}"]
    )
    assert code == 2
    assert "chunk_sise" in capsys.readouterr().err


def test_resume_from_the_run_folder_continues_to_the_new_step_count(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds")
    tiny = ["policy.batch_size=4", "policy.dim_model=32", "policy.dim_feedforward=64"]
    tiny += ["policy.backbone_width=8", "trainer.progress=false", "trainer.val_every=0"]
    run = tmp_path / "run"
    assert (
        main(
            [
                "policy=act_cpu",
                f"dataset.root={root}",
                "trainer.steps=2",
                *tiny,
                f"output_dir={run}",
            ]
        )
        == 0
    )
    more = tmp_path / "more"
    args = ["policy=act_cpu", f"dataset.root={root}", "trainer.steps=4", f"resume_from={run}"]
    assert main([*args, *tiny, f"output_dir={more}"]) == 0
    assert (more / "checkpoints/last").resolve().name == "000004"
    steps = [json.loads(x).get("step") for x in (more / "metrics.jsonl").read_text().splitlines()]
    assert steps[0] == 2  # started where the first run stopped
