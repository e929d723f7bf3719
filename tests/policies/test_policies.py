"""Behaviour every policy must have: all parameters train, save/load is exact, it can fit data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.fakes.policy_batches import (
    make_batch,
    make_stats,
    observation,
    tiny_act_config,
    tiny_diffusion_config,
)

from bricobot.policies.checkpoint import load_policy, make_policy, save_policy

CONFIGS = {
    "act": lambda: tiny_act_config(),
    "act_no_vae": lambda: tiny_act_config(use_vae=False),
    "act_batchnorm": lambda: tiny_act_config(backbone_norm="batch"),
    "diffusion": lambda: tiny_diffusion_config(),
    "act_no_dropout": lambda: tiny_act_config(use_vae=False, dropout=0.0),
    # Predicting the clean sample makes one-batch overfitting quick to observe; epsilon prediction
    # learns the same network, only more slowly on a batch of two.
    "diffusion_sample": lambda: tiny_diffusion_config(prediction_type="sample"),
}


def build(name: str) -> torch.nn.Module:
    cfg = CONFIGS[name]()
    torch.manual_seed(0)
    return make_policy(cfg, make_stats(cfg.input_features, cfg.output_features))


def n_obs(policy: torch.nn.Module) -> int:
    return getattr(policy.config, "n_obs_steps", 1)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_parameter_gets_a_gradient(name: str) -> None:
    policy = build(name)
    loss, metrics = policy(make_batch(policy.config, n_obs_steps=n_obs(policy)))
    loss.backward()
    no_grad = [n for n, p in policy.named_parameters() if p.requires_grad and p.grad is None]
    # ACT's decoder queries are zeros, so its first self-attention sees identical values at every
    # position (as in the paper's code): those weights get an all-zero gradient by construction.
    inherent: tuple[str, ...] = (
        "model.decoder.layers.0.self_attn.",
        "model.decoder.layers.0.norm1.",
    )
    if not getattr(policy.config, "use_vae", True):  # z is always 0 without the VAE
        inherent += ("model.encoder_latent_input_proj.weight",)
    zero = [
        n
        for n, p in policy.named_parameters()
        if p.grad is not None and not p.grad.abs().sum() > 0 and not n.startswith(inherent)
    ]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    assert not zero, f"parameters with an all-zero gradient: {zero}"
    assert torch.isfinite(loss) and metrics


@pytest.mark.parametrize("name", ["act", "diffusion"])
def test_save_then_load_gives_bit_identical_actions(name: str, tmp_path) -> None:
    policy = build(name)
    # One optimizer step so the weights differ from a fresh initialization.
    torch.optim.Adam(policy.parameters(), 1e-3).zero_grad()
    loss, _ = policy(make_batch(policy.config, n_obs_steps=n_obs(policy)))
    loss.backward()
    torch.optim.Adam(policy.parameters(), 1e-3).step()
    save_policy(policy, tmp_path / "ckpt")
    loaded = load_policy(tmp_path / "ckpt")
    obs = observation(policy.config)
    torch.manual_seed(5)
    a = policy.predict_chunk(obs)
    torch.manual_seed(5)
    b = loaded.predict_chunk(obs)
    assert torch.equal(a, b)
    assert loaded.config == policy.config


@pytest.mark.parametrize(("name", "steps"), [("act_no_dropout", 120), ("diffusion_sample", 80)])
def test_policy_overfits_one_small_batch(name: str, steps: int) -> None:
    policy = build(name)
    batch = make_batch(policy.config, batch_size=2, n_obs_steps=n_obs(policy))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    torch.manual_seed(0)
    first = None
    for _ in range(steps):
        loss, _ = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = float(loss.detach()) if first is None else first
    # Average several evaluations: diffusion's loss draws a random noise level per call.
    with torch.no_grad():
        final = sum(float(policy(batch)[0]) for _ in range(10)) / 10
    assert final < 0.25 * first, (first, final)


def test_select_action_pops_the_queue_and_refills_after_n_action_steps() -> None:
    policy = build("act")
    obs = observation(policy.config, batch_size=1)
    chunk = policy.predict_chunk(obs)
    policy.reset()
    actions = [policy.select_action(obs) for _ in range(policy.config.n_action_steps + 1)]
    for i in range(policy.config.n_action_steps):
        assert torch.allclose(actions[i], chunk[:, i], atol=1e-5)
    # The next call predicts a new chunk from the same observation: its first action again.
    assert torch.allclose(actions[-1], chunk[:, 0], atol=1e-5)


@pytest.mark.parametrize("mode", ["mean_std", "min_max"])
def test_predicted_actions_are_in_robot_units(mode: str) -> None:
    """The action head's normalized output comes back through the inverse of the action
    normalizer, joint by joint, with the dataset's statistics: robot units, not model units."""
    cfg = tiny_act_config()
    cfg.output_features["action"].normalization = mode
    stats = make_stats(cfg.input_features, cfg.output_features)
    joints = np.arange(6, dtype=np.float32)
    # Every joint its own statistics, so a mix-up of joints or of mean and std shows.
    stats["action"] = {
        "mean": 10.0 * joints - 20.0,
        "std": 1.0 + joints,
        "min": -50.0 - joints,
        "max": 30.0 + 2.0 * joints,
    }
    torch.manual_seed(0)
    policy = make_policy(cfg, stats)
    normalized = torch.tensor([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0])
    with torch.no_grad():  # the action head now outputs `normalized` whatever the observation
        policy.model.action_head.weight.zero_()
        policy.model.action_head.bias.copy_(normalized)
    actions = policy.predict_chunk(observation(policy.config))  # (B, chunk, 6)
    a = stats["action"]
    if mode == "mean_std":
        expected = a["mean"] + a["std"] * normalized.numpy()
    else:
        expected = a["min"] + (normalized.numpy() + 1.0) / 2.0 * (a["max"] - a["min"])
    assert actions.shape == (2, cfg.chunk_size, 6)
    np.testing.assert_allclose(actions.numpy(), np.broadcast_to(expected, actions.shape), rtol=1e-5)


def test_act_shares_one_backbone_across_cameras_as_published() -> None:
    from tests.fakes.policy_batches import make_features

    from bricobot.policies.checkpoint import make_policy
    from bricobot.policies.presets import load_preset

    inputs, outputs = make_features(cameras=("front", "wrist"), image_hw=(480, 640))
    policy = make_policy(load_preset("act").with_features(inputs, outputs))
    backbones = [n for n, m in policy.named_modules() if n.endswith("backbone")]
    assert backbones == ["model.backbone"]
    n_params = sum(p.numel() for p in policy.parameters())
    assert 51.4e6 < n_params < 51.8e6  # LeRobot's ACT: 51.6M


def test_frozen_batch_norm_needs_pretrained_weights() -> None:
    import pytest

    from bricobot.policies.act.config import ACTConfig

    with pytest.raises(ValueError, match="pretrained_backbone_path"):
        ACTConfig(backbone_norm="frozen_batch")


def test_diffusion_starts_its_chunk_with_the_given_prefix_and_continues_it() -> None:
    """A remote chunk arrives while the robot still executes the previous one: given those actions
    (the prefix), Diffusion's chunk starts with them and, where the data goes two ways from one
    observation, continues the way the prefix began instead of jumping to the other."""
    policy = build("diffusion_sample")
    cfg = policy.config
    batch = make_batch(cfg, batch_size=2, n_obs_steps=n_obs(policy))
    for key in cfg.input_features:  # one observation, two demonstrations from it
        batch[key][1] = batch[key][0]
    up, down = 26.0, -6.0  # normalized ±0.8 (make_stats: mean 10, std 20)
    batch["action"][0], batch["action"][1] = up, down
    batch["action_is_pad"][:] = False
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(150):
        loss, _ = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.eval()
    obs = {key: batch[key][:1] for key in cfg.input_features}  # (1, T_obs, ...)
    for way in (up, down):
        prefix = torch.full((1, 2, cfg.action_dim), way)  # (1, d, A)
        for seed in range(3):
            torch.manual_seed(seed)
            chunk = policy.predict_chunk(obs, prefix=prefix)  # (1, n, A)
            assert chunk.shape == (1, cfg.horizon - cfg.n_obs_steps + 1, cfg.action_dim)
            torch.testing.assert_close(chunk[:, :2], prefix, atol=1e-3, rtol=0)
            rest = chunk[0, 2:]  # on the prefix's side of the midway 10, all of it
            assert ((rest - 10.0) * (way - 10.0) > 0).all(), (way, rest)
    # A prefix longer than the chunk fills it; none leaves sampling as it was.
    long = torch.full((1, cfg.horizon + 3, cfg.action_dim), up)
    torch.testing.assert_close(policy.predict_chunk(obs, prefix=long), long[:, : chunk.shape[1]])
    torch.manual_seed(5)
    free = policy.predict_chunk(obs)
    torch.manual_seed(5)
    torch.testing.assert_close(policy.predict_chunk(obs, prefix=long[:, :0]), free)
