"""Diffusion Policy (Chi et al. 2023) with a 1D temporal U-Net conditioned through FiLM.

Observation features (state, plus per camera a group-norm ResNet18 and a spatial soft-argmax)
over ``n_obs_steps`` frames form the global condition. Training: DDPM noise prediction with a
squared-cosine schedule of ``num_train_timesteps`` steps. Inference: DDIM (deterministic, η = 0)
with ``num_inference_steps`` steps. EMA of the weights is kept by the trainer (``ema_decay``).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import cast

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from bricobot.features import is_image_key
from bricobot.policies.backbones import (
    ResNet18,
    SpatialSoftmax,
    feature_map_hw,
    load_backbone_weights,
)
from bricobot.policies.base import ACTION_KEY, STATE_KEY, Policy
from bricobot.policies.diffusion.config import DiffusionConfig
from bricobot.policies.normalize import Normalizer
from bricobot.policies.preprocessing import model_image_hw, prepare_images


class DiffusionPolicy(Policy):
    """Normalization + observation encoder + U-Net + noise scheduler + observation/action queues."""

    config: DiffusionConfig
    continues_prefix = True

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        if not config.output_features:
            raise ValueError("Diffusion needs output_features (action); build it from a dataset")
        self.config = config
        self.normalize_inputs = Normalizer(config.input_features)
        self.normalize_targets = Normalizer(config.output_features)
        self.obs_encoder = ObservationEncoder(config)
        self.unet = ConditionalUnet1D(
            config, global_cond_dim=self.obs_encoder.out_dim * config.n_obs_steps
        )
        self.scheduler = NoiseScheduler(config)
        self._obs_queue: deque[dict[str, Tensor]] = deque(maxlen=config.n_obs_steps)
        self._action_queue: deque[Tensor] = deque()

    def reset(self) -> None:
        self._obs_queue.clear()
        self._action_queue.clear()

    def _global_cond(self, batch: dict[str, Tensor]) -> Tensor:
        """Inputs with a time axis ``(B, T_obs, ...)`` → condition ``(B, T_obs · F)``."""
        batch = self.normalize_inputs(prepare_images(batch, self.config, self.training))
        feats = self.obs_encoder(batch)  # (B, T_obs, F)
        return rearrange(feats, "b t f -> b (t f)")

    def _with_time_axis(self, obs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Add the observation-time axis, repeating a single frame when no history is given."""
        out = {}
        t = self.config.n_obs_steps
        for key in self.config.input_features:
            x = obs[key]
            single_ndim = 4 if is_image_key(key) else 2
            if x.ndim == single_ndim:
                x = x.unsqueeze(1).expand(-1, t, *x.shape[1:])  # (B, T_obs, ...)
            out[key] = x
        return out

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:  # type: ignore[override]
        """``batch``: inputs ``(B, T_obs, ...)``, ``action`` ``(B, horizon, A)``, ``action_is_pad``."""
        cond = self._global_cond(self._with_time_axis(batch))
        target = self.normalize_targets(batch)[ACTION_KEY]  # (B, horizon, A)
        noise = torch.randn_like(target)
        b = target.shape[0]
        timesteps = torch.randint(0, self.config.num_train_timesteps, (b,), device=target.device)
        noisy = self.scheduler.add_noise(target, noise, timesteps)
        pred = self.unet(noisy, timesteps, cond)
        goal = noise if self.config.prediction_type == "epsilon" else target
        loss = F.mse_loss(pred, goal)
        return loss, {"mse_loss": float(loss.detach())}

    @torch.no_grad()
    def sample(
        self, cond: Tensor, generator: torch.Generator | None = None, known: Tensor | None = None
    ) -> Tensor:
        """DDIM sampling: normalized action sequences ``(B, horizon, A)``.

        ``known`` ``(B, k, A)`` (normalized): the sequence's actions from index ``n_obs_steps − 1``
        on are fixed to it — inpainted by replacement: at every denoising step those positions
        are set to ``known`` noised to that step's level, so the rest of the sequence is sampled
        to continue it (the last step leaves them exactly ``known``)."""
        cfg = self.config
        b = cond.shape[0]
        x = torch.randn(b, cfg.horizon, cfg.action_dim, generator=generator, device="cpu").to(
            cond.device, cond.dtype
        )
        timesteps = self.scheduler.inference_timesteps()
        start = cfg.n_obs_steps - 1
        if known is not None:
            known = known[:, : cfg.horizon - start].to(x)  # (B, k, A)
            where = slice(start, start + known.shape[1])
            known_noise = torch.randn(known.shape, generator=generator).to(x)
            x[:, where] = self.scheduler.noised(known, known_noise, timesteps[0])
        for t in timesteps:
            ts = torch.full((b,), int(t), device=cond.device, dtype=torch.long)
            x = self.scheduler.ddim_step(self.unet(x, ts, cond), int(t), x)
            if known is not None:
                x[:, where] = self.scheduler.noised(known, known_noise, self.scheduler.prev_t(t))
        return x

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, Tensor], prefix: Tensor | None = None) -> Tensor:
        """Actions from the current step on, ``(B, horizon − n_obs_steps + 1, A)`` in robot units.

        ``obs`` holds either ``(B, T_obs, ...)`` histories or single frames (then repeated).
        ``prefix`` ``(B, d, A)`` (robot units): actions the robot will execute at the chunk's first
        d steps anyway (those of the previous chunk, while this one is computed and sent); the
        chunk starts with them and is sampled to continue them (see :meth:`sample`).
        """
        was_training = self.training
        self.eval()
        known = None
        if prefix is not None:
            known = self.normalize_targets({ACTION_KEY: prefix})[ACTION_KEY]  # (B, d, A)
        actions = self.sample(self._global_cond(self._with_time_axis(obs)), known=known)
        self.train(was_training)
        actions = self.normalize_targets.inverse(ACTION_KEY, actions)
        return actions[:, self.config.n_obs_steps - 1 :]

    @torch.no_grad()
    def select_action(self, obs: dict[str, Tensor]) -> Tensor:
        frame = {k: obs[k] for k in self.config.input_features}
        if not self._obs_queue:
            self._obs_queue.extend([frame] * self.config.n_obs_steps)
        else:
            self._obs_queue.append(frame)
        if not self._action_queue:
            history = {
                k: torch.stack([f[k] for f in self._obs_queue], dim=1)  # (B, T_obs, ...)
                for k in self.config.input_features
            }
            chunk = self.predict_chunk(history)[:, : self.config.n_action_steps]
            self._action_queue.extend(chunk.transpose(0, 1))  # n tensors of (B, A)
        return self._action_queue.popleft()


class CameraEncoder(nn.Module):
    """One camera: ResNet18 (group norm) → spatial soft-argmax keypoints → linear + ReLU."""

    def __init__(self, config: DiffusionConfig, image_hw: tuple[int, int]) -> None:
        super().__init__()
        k = config.spatial_softmax_num_keypoints
        self.backbone = ResNet18(
            config.backbone_width, config.backbone_norm, config.backbone_small_input
        )
        if config.pretrained_backbone_path:
            load_backbone_weights(self.backbone, config.pretrained_backbone_path)
        fmap = feature_map_hw(self.backbone, image_hw)
        self.pool = SpatialSoftmax(self.backbone.out_channels, fmap, k)
        self.out = nn.Linear(2 * k, 2 * k)
        self.out_dim = 2 * k

    def forward(self, images: Tensor) -> Tensor:
        keypoints = self.pool(self.backbone(images))  # (N, K, 2)
        return F.relu(self.out(keypoints.flatten(1)))  # (N, 2K)


class ObservationEncoder(nn.Module):
    """Per frame: state ⊕ (per camera) ResNet18 → spatial soft-argmax → linear. ``(B, T, F)``."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.image_keys = config.image_keys
        self.has_state = STATE_KEY in config.input_features
        self.cameras = nn.ModuleDict()
        for key in self.image_keys:
            self.cameras[key.replace(".", "_")] = CameraEncoder(config, model_image_hw(config, key))
        self.out_dim = (
            config.state_dim + len(self.image_keys) * 2 * config.spatial_softmax_num_keypoints
        )

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        parts = []
        if self.has_state:
            parts.append(batch[STATE_KEY])  # (B, T, D)
        for key in self.image_keys:
            images = batch[key]  # (B, T, 3, H, W)
            b, t = images.shape[:2]
            flat = rearrange(images, "b t c h w -> (b t) c h w")
            feat = self.cameras[key.replace(".", "_")](flat)  # (B*T, 2K)
            parts.append(rearrange(feat, "(b t) f -> b t f", b=b, t=t))
        return torch.cat(parts, dim=-1)


class NoiseScheduler(nn.Module):
    """DDPM forward process and DDIM (η = 0) reverse steps over a fixed beta schedule."""

    alphas_cumprod: Tensor

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.config = config
        n = config.num_train_timesteps
        if config.beta_schedule == "squaredcos_cap_v2":

            def alpha_bar(t: float) -> float:
                return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

            betas = torch.tensor(
                [min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)],
                dtype=torch.float64,
            )
        else:
            betas = torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)
        # Not saved: derived from the config, so checkpoints only hold learned state.
        self.register_buffer(
            "alphas_cumprod", torch.cumprod(1.0 - betas, dim=0).float(), persistent=False
        )

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        ac = self.alphas_cumprod.to(x0.device)[t].view(-1, 1, 1)  # (B, 1, 1)
        return ac.sqrt() * x0 + (1 - ac).sqrt() * noise

    def noised(self, x0: Tensor, noise: Tensor, t: int) -> Tensor:
        """``x0`` at noise level ``t`` (``t < 0``: ``x0`` itself, the end of sampling)."""
        if t < 0:
            return x0
        t_batch = torch.full((x0.shape[0],), t, dtype=torch.long, device=x0.device)
        return self.add_noise(x0, noise, t_batch)

    def prev_t(self, t: int) -> int:
        """The timestep a DDIM step from ``t`` lands on (negative after the last)."""
        return t - self.config.num_train_timesteps // self.config.num_inference_steps

    def inference_timesteps(self) -> list[int]:
        n, k = self.config.num_train_timesteps, self.config.num_inference_steps
        step = n // k
        return [i * step for i in range(k)][::-1]

    def ddim_step(self, model_output: Tensor, t: int, x: Tensor) -> Tensor:
        cfg = self.config
        prev_t = self.prev_t(t)
        ac = self.alphas_cumprod.to(x.device)
        ac_t = ac[t]
        ac_prev = ac[prev_t] if prev_t >= 0 else torch.ones((), device=x.device)
        if cfg.prediction_type == "epsilon":
            x0 = (x - (1 - ac_t).sqrt() * model_output) / ac_t.sqrt()
            eps = model_output
        else:
            x0 = model_output
            eps = (x - ac_t.sqrt() * x0) / (1 - ac_t).sqrt()
        if cfg.clip_sample:
            x0 = x0.clamp(-cfg.clip_sample_range, cfg.clip_sample_range)
        return ac_prev.sqrt() * x0 + (1 - ac_prev).sqrt() * eps


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000) / (half - 1)))
        args = t.float()[:, None] * freqs[None, :]  # (B, half)
        return torch.cat([args.sin(), args.cos()], dim=-1)  # (B, dim)


class Conv1dBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, n_groups: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(in_ch, out_ch, kernel, padding=kernel // 2),
            nn.GroupNorm(n_groups, out_ch),
            nn.Mish(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class ConditionalResidualBlock1D(nn.Module):
    """Two conv blocks; the condition sets a per-channel scale and bias in between (FiLM)."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int, cfg: DiffusionConfig) -> None:
        super().__init__()
        self.out_ch = out_ch
        self.film_scale = cfg.use_film_scale_modulation
        self.conv1 = Conv1dBlock(in_ch, out_ch, cfg.kernel_size, cfg.n_groups)
        self.cond_encoder = nn.Sequential(
            nn.Mish(), nn.Linear(cond_dim, 2 * out_ch if self.film_scale else out_ch)
        )
        self.conv2 = Conv1dBlock(out_ch, out_ch, cfg.kernel_size, cfg.n_groups)
        self.residual = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        out = self.conv1(x)  # (B, C, T)
        film = self.cond_encoder(cond).unsqueeze(-1)  # (B, C or 2C, 1)
        scale = film[:, : self.out_ch] if self.film_scale else torch.ones_like(film[:, :1])
        bias = film[:, self.out_ch :] if self.film_scale else film
        out = scale * out + bias
        return self.conv2(out) + self.residual(x)


class UnetStage(nn.Module):
    """Two conditional residual blocks, then a down- or up-sampling (or nothing)."""

    def __init__(
        self, in_ch: int, out_ch: int, cond_dim: int, cfg: DiffusionConfig, resample: nn.Module
    ) -> None:
        super().__init__()
        self.res1 = ConditionalResidualBlock1D(in_ch, out_ch, cond_dim, cfg)
        self.res2 = ConditionalResidualBlock1D(out_ch, out_ch, cond_dim, cfg)
        self.resample = resample

    def blocks(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.res2(self.res1(x, cond), cond)


class ConditionalUnet1D(nn.Module):
    """U-Net over the action sequence's time axis, FiLM-conditioned on (diffusion step, observation)."""

    def __init__(self, cfg: DiffusionConfig, global_cond_dim: int) -> None:
        super().__init__()
        dsed = cfg.diffusion_step_embed_dim
        self.step_encoder = nn.Sequential(
            SinusoidalPosEmb(dsed), nn.Linear(dsed, 4 * dsed), nn.Mish(), nn.Linear(4 * dsed, dsed)
        )
        cond_dim = dsed + global_cond_dim
        dims = [cfg.action_dim, *cfg.down_dims]
        in_out = list(itertools.pairwise(dims))
        self.down = nn.ModuleList(
            UnetStage(
                din,
                dout,
                cond_dim,
                cfg,
                nn.Conv1d(dout, dout, 3, 2, 1) if i < len(in_out) - 1 else nn.Identity(),
            )
            for i, (din, dout) in enumerate(in_out)
        )
        mid = cfg.down_dims[-1]
        self.mid = UnetStage(mid, mid, cond_dim, cfg, nn.Identity())
        self.up = nn.ModuleList(
            UnetStage(2 * din, dout, cond_dim, cfg, nn.ConvTranspose1d(dout, dout, 4, 2, 1))
            for dout, din in reversed(in_out[1:])
        )
        d0 = cfg.down_dims[0]
        self.final = nn.Sequential(
            Conv1dBlock(d0, d0, cfg.kernel_size, cfg.n_groups), nn.Conv1d(d0, cfg.action_dim, 1)
        )

    def forward(self, x: Tensor, timesteps: Tensor, global_cond: Tensor) -> Tensor:
        """``x`` ``(B, T, A)``, ``timesteps`` ``(B,)``, ``global_cond`` ``(B, G)`` → ``(B, T, A)``."""
        x = rearrange(x, "b t a -> b a t")
        cond = torch.cat([self.step_encoder(timesteps), global_cond], dim=-1)  # (B, dsed + G)
        skips = []
        for stage in cast(list[UnetStage], self.down):
            x = stage.blocks(x, cond)
            skips.append(x)
            x = stage.resample(x)
        x = self.mid.blocks(x, cond)
        for stage in cast(list[UnetStage], self.up):
            x = torch.cat([x, skips.pop()], dim=1)  # (B, 2C, T)
            x = stage.resample(stage.blocks(x, cond))
        x = self.final(x)
        return rearrange(x, "b a t -> b t a")
