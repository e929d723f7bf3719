"""Checkpoints load only when config.json and model.safetensors agree, with errors that name why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from tests.fakes.policy_batches import make_stats, tiny_act_config

from bricobot.features import FeatureMismatchError
from bricobot.policies.base import FeatureConfig
from bricobot.policies.checkpoint import (
    CheckpointError,
    boundary_features,
    check_features,
    load_policy,
    make_policy,
    resolve_checkpoint,
    save_policy,
)


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    cfg = tiny_act_config()
    policy = make_policy(cfg, make_stats(cfg.input_features, cfg.output_features))
    return save_policy(policy, tmp_path / "ckpt")


def edit_config(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads((path / "config.json").read_text())
    edit(meta)
    (path / "config.json").write_text(json.dumps(meta))


def test_checkpoint_is_config_json_plus_safetensors(ckpt: Path) -> None:
    assert sorted(p.name for p in ckpt.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["policy_type"] == "act"
    assert meta["bricobot_version"]
    assert meta["config"]["input_features"]["observation.images.front"]["shape"] == [32, 32, 3]
    assert meta["config"]["output_features"]["action"]["names"][0] == "shoulder_pan.pos"
    # Normalization statistics travel in the weights file.
    assert torch.isfinite(load_policy(ckpt).normalize_targets.stats["action"].mean).all()


def test_missing_feature_is_named(ckpt: Path) -> None:
    edit_config(ckpt, lambda m: m["config"]["input_features"].pop("observation.images.front"))
    with pytest.raises(CheckpointError, match=r"observation\.images\.front"):
        load_policy(ckpt)


def test_mismatched_feature_shape_is_named(ckpt: Path) -> None:
    def grow_state(meta: dict) -> None:
        meta["config"]["input_features"]["observation.state"]["shape"] = [7]

    edit_config(ckpt, grow_state)
    with pytest.raises(CheckpointError, match=r"observation\.state"):
        load_policy(ckpt)


def test_corrupt_weights_are_named(ckpt: Path) -> None:
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_policy(ckpt)


def test_unknown_config_key_is_named(ckpt: Path) -> None:
    edit_config(ckpt, lambda m: m["config"].update(chunk_sise=10))
    with pytest.raises(CheckpointError, match="chunk_sise"):
        load_policy(ckpt)


def test_unknown_key_inside_a_feature_is_named(ckpt: Path) -> None:
    edit_config(ckpt, lambda m: m["config"]["output_features"]["action"].update(nrom="x"))
    with pytest.raises(CheckpointError, match="nrom"):
        load_policy(ckpt)


def test_unknown_policy_type_lists_the_known_ones(ckpt: Path) -> None:
    edit_config(ckpt, lambda m: m.update(policy_type="bogus"))
    with pytest.raises(CheckpointError, match="act"):
        load_policy(ckpt)


def robot_features(
    cameras: dict[str, tuple[int, int, int]], joints: list[str]
) -> dict[str, FeatureConfig]:
    obs: dict[str, object] = {f"{j}.pos": float for j in joints}
    obs.update(cameras)
    return boundary_features(obs, {f"{j}.pos": float for j in joints})


JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def test_matching_features_pass_and_unused_cameras_are_fine() -> None:
    cfg = tiny_act_config()
    env = robot_features({"front": (32, 32, 3), "wrist": (32, 32, 3)}, JOINTS)
    check_features(cfg.all_features(), env)


def test_feature_mismatch_is_refused_with_a_diff() -> None:
    cfg = tiny_act_config()
    joints = [*JOINTS[:4], "wrist_twist", "gripper"]
    env = robot_features({"wrist": (32, 32, 3)}, joints)
    with pytest.raises(FeatureMismatchError) as err:
        check_features(cfg.all_features(), env, what="robot")
    text = str(err.value)
    assert "- observation.images.front" in text
    assert "~ observation.state: names" in text and "wrist_twist.pos" in text
    assert "~ action: names" in text


def test_image_shape_mismatch_is_refused() -> None:
    cfg = tiny_act_config()
    env = robot_features({"front": (64, 64, 3)}, JOINTS)
    with pytest.raises(
        FeatureMismatchError, match=r"observation\.images\.front: shape \(32, 32, 3\)"
    ):
        check_features(cfg.all_features(), env)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A training run's layout: checkpoints/<step>/pretrained_model and ``last`` → the newest."""
    cfg = tiny_act_config()
    policy = make_policy(cfg, make_stats(cfg.input_features, cfg.output_features))
    run = tmp_path / "outputs" / "train" / "20250101-120000"
    for step in ("002000", "004000"):
        save_policy(policy, run / "checkpoints" / step / "pretrained_model")
    os.symlink("004000", run / "checkpoints" / "last")
    return run


@pytest.mark.parametrize(
    "given",
    [
        "",
        "checkpoints",
        "checkpoints/last",
        "checkpoints/004000",
        "checkpoints/last/pretrained_model",
        "checkpoints/004000/pretrained_model",
    ],
)
def test_every_path_convention_resolves_to_the_pretrained_model(run_dir: Path, given: str) -> None:
    resolved = resolve_checkpoint(run_dir / given)
    assert resolved.name == "pretrained_model"
    assert resolved.resolve() == (run_dir / "checkpoints/004000/pretrained_model").resolve()
    assert load_policy(run_dir / given).config.type == "act"


def test_an_older_step_stays_that_step(run_dir: Path) -> None:
    resolved = resolve_checkpoint(run_dir / "checkpoints" / "002000")
    assert resolved == run_dir / "checkpoints" / "002000" / "pretrained_model"


def test_a_folder_that_is_no_checkpoint_lists_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(tmp_path / "empty")
    message = str(info.value)
    assert f"{tmp_path / 'empty'} is not a checkpoint" in message
    for looked in ("empty/config.json", "empty/pretrained_model/config.json"):
        assert looked in message
    assert "empty/checkpoints/last/pretrained_model/config.json" in message


def test_a_missing_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere does not exist"):
        load_policy(tmp_path / "nowhere")
