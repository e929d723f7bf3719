"""ACT (Zhao et al. 2023, "Learning Fine-Grained Bimanual Manipulation with Low-Cost Hardware").

Training: a transformer encoder over ``[CLS, state, action chunk]`` gives the posterior of a latent
style variable z; the policy (encoder over ``[z, state, image features]`` with fixed 2D sinusoidal
positions on image features, decoder with ``chunk_size`` learned queries) reconstructs the chunk.
Loss = L1 on normalized actions (masked by ``action_is_pad``) + ``kl_weight`` × KL. At inference
z = 0. Position embeddings are added to queries and keys in every attention layer, as in DETR.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from bricobot.policies.act.config import ACTConfig
from bricobot.policies.backbones import ResNet18, load_backbone_weights
from bricobot.policies.base import ACTION_KEY, STATE_KEY, Policy
from bricobot.policies.normalize import Normalizer
from bricobot.policies.preprocessing import prepare_images


class ACT(Policy):
    """ACT policy: normalization + :class:`ACTModel` + action queue or temporal ensembler."""

    config: ACTConfig

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        if not config.output_features:
            raise ValueError(
                "ACT needs output_features (action); build it from a dataset's features"
            )
        self.config = config
        self.normalize_inputs = Normalizer(config.input_features)
        self.normalize_targets = Normalizer(config.output_features)
        self.model = ACTModel(config)
        self._queue: deque[Tensor] = deque()
        self.ensembler = (
            TemporalEnsembler(config.temporal_ensemble_coeff, config.chunk_size)
            if config.temporal_ensemble_coeff is not None
            else None
        )

    def reset(self) -> None:
        self._queue.clear()
        if self.ensembler is not None:
            self.ensembler.reset()

    def _prepare(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Images to float at the model's size (augmented while training), then normalized."""
        return self.normalize_inputs(prepare_images(batch, self.config, self.training))

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:  # type: ignore[override]
        """``batch``: inputs ``(B, ...)``, ``action`` ``(B, S, A)``, ``action_is_pad`` ``(B, S)``."""
        inputs = self._prepare(batch)
        target = self.normalize_targets(batch)[ACTION_KEY]
        actions_hat, (mu, log_sigma_x2) = self.model(inputs, target, batch["action_is_pad"])
        valid = (~batch["action_is_pad"]).unsqueeze(-1).to(actions_hat.dtype)  # (B, S, 1)
        l1 = (F.l1_loss(actions_hat, target, reduction="none") * valid).mean()
        metrics = {"l1_loss": float(l1.detach())}
        loss = l1
        if mu is not None and log_sigma_x2 is not None:
            # KL(q(z|a, s) || N(0, I)), summed over latent dims, averaged over the batch.
            kld = (-0.5 * (1 + log_sigma_x2 - mu.pow(2) - log_sigma_x2.exp())).sum(-1).mean()
            metrics["kld_loss"] = float(kld.detach())
            loss = l1 + self.config.kl_weight * kld
        return loss, metrics

    @torch.no_grad()
    def predict_chunk(self, obs: dict[str, Tensor], prefix: Tensor | None = None) -> Tensor:
        was_training = self.training
        self.eval()
        actions, _ = self.model(self._prepare(obs))  # (B, S, A) normalized
        self.train(was_training)
        return self.normalize_targets.inverse(ACTION_KEY, actions)

    @torch.no_grad()
    def select_action(self, obs: dict[str, Tensor]) -> Tensor:
        if self.ensembler is not None:
            return self.ensembler.update(self.predict_chunk(obs))
        if not self._queue:
            chunk = self.predict_chunk(obs)[:, : self.config.n_action_steps]  # (B, n, A)
            self._queue.extend(chunk.transpose(0, 1))  # n tensors of (B, A)
        return self._queue.popleft()


def ensemble_weights(n: int, coeff: float) -> Tensor:
    """Temporal-ensembling weights ``exp(−coeff · i)``; i = 0 is the oldest prediction."""
    return torch.exp(-coeff * torch.arange(n, dtype=torch.float64)).float()


class TemporalEnsembler:
    """Online weighted average of every chunk's prediction for the current step (ACT §IV-C).

    At step t the executed action is ``Σ_i w_i a_i[t] / Σ_i w_i`` over the chunks predicted at steps
    ≤ t that cover t, with ``w_i = exp(−coeff · i)`` and i = 0 the oldest chunk.
    """

    def __init__(self, coeff: float, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.weights = ensemble_weights(chunk_size, coeff)  # (S,)
        self.cum_weights = torch.cumsum(self.weights, dim=0)  # (S,)
        self.reset()

    def reset(self) -> None:
        self.ensembled: Tensor | None = None  # (B, S, A): running averages for steps t .. t+S-1
        self.counts: Tensor | None = None  # (S,): how many chunks contributed to each step

    def update(self, actions: Tensor) -> Tensor:
        """Fold in a new chunk ``(B, S, A)`` predicted at this step; return the action ``(B, A)``."""
        w = self.weights.to(actions.device)
        cw = self.cum_weights.to(actions.device)
        if self.ensembled is None or self.counts is None:
            self.ensembled = actions.clone()
            self.counts = torch.ones(self.chunk_size, dtype=torch.long, device=actions.device)
        else:
            # Existing averages cover steps t .. t+S-2; the new chunk's first S-1 actions add to them.
            c = self.counts  # (S-1,)
            prev = self.ensembled * cw[c - 1].view(1, -1, 1)
            new = actions[:, :-1] * w[c].view(1, -1, 1)
            self.ensembled = (prev + new) / cw[c].view(1, -1, 1)
            self.counts = torch.clamp(c + 1, max=self.chunk_size - 1)
            self.ensembled = torch.cat([self.ensembled, actions[:, -1:]], dim=1)
            self.counts = torch.cat([self.counts, torch.ones_like(self.counts[:1])])
        action = self.ensembled[:, 0]
        self.ensembled, self.counts = self.ensembled[:, 1:], self.counts[1:]
        return action


class ACTModel(nn.Module):
    """The network: CVAE encoder, one ResNet18 shared by all cameras, transformer encoder–decoder,
    action head (as the original ACT code and LeRobot: ``backbones[0]`` serves every camera)."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim_model
        self.has_state = config.state_dim > 0
        self.image_keys = config.image_keys
        if config.use_vae:
            self.vae_encoder = TransformerEncoder(config, config.n_vae_encoder_layers)
            self.vae_encoder_cls_embed = nn.Embedding(1, d)
            if self.has_state:
                self.vae_encoder_state_input_proj = nn.Linear(config.state_dim, d)
            self.vae_encoder_action_input_proj = nn.Linear(config.action_dim, d)
            self.vae_encoder_latent_output_proj = nn.Linear(d, 2 * config.latent_dim)
            n_vae_tokens = 1 + int(self.has_state) + config.chunk_size
            self.register_buffer(
                "vae_encoder_pos_enc", sinusoidal_1d(n_vae_tokens, d).unsqueeze(0), persistent=False
            )
        # One ResNet18 for every camera; the name "backbone" puts it in the backbone_lr group.
        if self.image_keys:
            self.backbone = ResNet18(
                config.backbone_width, config.backbone_norm, config.backbone_small_input
            )
            if config.pretrained_backbone_path:
                load_backbone_weights(self.backbone, config.pretrained_backbone_path)
            self.encoder_img_feat_input_proj = nn.Conv2d(8 * config.backbone_width, d, 1)
        self.encoder = TransformerEncoder(config, config.n_encoder_layers)
        self.decoder = TransformerDecoder(config)
        if self.has_state:
            self.encoder_state_input_proj = nn.Linear(config.state_dim, d)
        self.encoder_latent_input_proj = nn.Linear(config.latent_dim, d)
        n_1d_tokens = 1 + int(self.has_state)
        self.encoder_1d_pos_embed = nn.Embedding(n_1d_tokens, d)
        self.decoder_pos_embed = nn.Embedding(config.chunk_size, d)
        self.action_head = nn.Linear(d, config.action_dim)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for module in (self.encoder, self.decoder):
            for p in module.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

    def forward(
        self,
        batch: dict[str, Tensor],
        target: Tensor | None = None,
        action_is_pad: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        """Return actions ``(B, S, A)`` (normalized) and the posterior ``(mu, log σ²)`` when training."""
        cfg = self.config
        some = next(iter(batch.values()))
        b, device = some.shape[0], some.device
        state = batch.get(STATE_KEY)
        mu = log_sigma_x2 = None
        if cfg.use_vae and self.training and target is not None:
            tokens = [self.vae_encoder_cls_embed.weight.expand(b, 1, -1)]  # (B, 1, D)
            if self.has_state and state is not None:
                tokens.append(self.vae_encoder_state_input_proj(state).unsqueeze(1))  # (B, 1, D)
            tokens.append(self.vae_encoder_action_input_proj(target))  # (B, S, D)
            vae_in = torch.cat(tokens, dim=1)  # (B, 1+[1]+S, D)
            n_prefix = vae_in.shape[1] - target.shape[1]
            if action_is_pad is None:
                action_is_pad = torch.zeros(target.shape[:2], dtype=torch.bool, device=device)
            prefix = torch.zeros(b, n_prefix, dtype=torch.bool, device=device)
            mask = torch.cat([prefix, action_is_pad], dim=1)  # (B, 1+[1]+S): True = ignore
            cls_out = self.vae_encoder(vae_in, self.vae_encoder_pos_enc, key_padding_mask=mask)
            latent_pdf = self.vae_encoder_latent_output_proj(cls_out[:, 0])  # (B, 2L)
            mu = latent_pdf[:, : cfg.latent_dim]
            log_sigma_x2 = latent_pdf[:, cfg.latent_dim :]
            latent = mu + (log_sigma_x2 / 2).exp() * torch.randn_like(mu)
        else:
            latent = torch.zeros(b, cfg.latent_dim, device=device, dtype=some.dtype)

        tokens = [self.encoder_latent_input_proj(latent).unsqueeze(1)]  # (B, 1, D)
        if self.has_state and state is not None:
            tokens.append(self.encoder_state_input_proj(state).unsqueeze(1))
        pos = [self.encoder_1d_pos_embed.weight.unsqueeze(0).expand(b, -1, -1)]  # (B, n1d, D)
        for feat in self._camera_features(batch):  # (B, C, h, w) per camera
            feat = self.encoder_img_feat_input_proj(feat)  # (B, D, h, w)
            img_pos = sinusoidal_2d(feat.shape[-2], feat.shape[-1], cfg.dim_model, feat.device)
            tokens.append(rearrange(feat, "b d h w -> b (h w) d"))
            pos.append(rearrange(img_pos, "d h w -> 1 (h w) d").expand(b, -1, -1).to(feat.dtype))
        enc_in = torch.cat(tokens, dim=1)  # (B, N, D)
        enc_pos = torch.cat(pos, dim=1)  # (B, N, D)
        memory = self.encoder(enc_in, enc_pos)
        queries = torch.zeros(b, cfg.chunk_size, cfg.dim_model, device=device, dtype=memory.dtype)
        dec_pos = self.decoder_pos_embed.weight.unsqueeze(0)  # (1, S, D)
        out = self.decoder(queries, memory, dec_pos, enc_pos)  # (B, S, D)
        return self.action_head(out), (mu, log_sigma_x2)

    def _camera_features(self, batch: dict[str, Tensor]) -> list[Tensor]:
        """The shared backbone's feature map of each camera, ``(B, C, h, w)`` each.

        Cameras of one size go through the backbone as one batch ``(n_cams · B, 3, H, W)``: a
        BatchNorm trained from scratch then normalizes with statistics of all cameras together,
        the same mixture its running statistics hold at inference (one call per camera would
        train on per-camera statistics and infer with their average).
        """
        images = [batch[key] for key in self.image_keys]
        if len({tuple(x.shape) for x in images}) == 1:
            feats = self.backbone(torch.cat(images, dim=0))  # (n_cams * B, C, h, w)
            return list(feats.chunk(len(images), dim=0))
        return [self.backbone(x) for x in images]


def sinusoidal_1d(n_positions: int, dim: int) -> Tensor:
    """Fixed sinusoidal embeddings ``(n_positions, dim)`` (Vaswani et al. 2017)."""
    position = torch.arange(n_positions, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div[: dim // 2])
    return table.float()


def sinusoidal_2d(height: int, width: int, dim: int, device: Any = None) -> Tensor:
    """DETR's normalized 2D sine embeddings ``(dim, H, W)``: half the channels for y, half for x."""
    n = dim // 2
    eps, scale, temperature = 1e-6, 2 * math.pi, 10000.0
    y = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    x = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    y = y / (y[-1] + eps) * scale
    x = x / (x[-1] + eps) * scale
    dim_t = torch.arange(n, dtype=torch.float32, device=device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / n)
    pos_y = y[:, None] / dim_t  # (H, n)
    pos_x = x[:, None] / dim_t  # (W, n)
    pos_y = torch.stack([pos_y[:, 0::2].sin(), pos_y[:, 1::2].cos()], dim=2).flatten(1)
    pos_x = torch.stack([pos_x[:, 0::2].sin(), pos_x[:, 1::2].cos()], dim=2).flatten(1)
    grid_y = pos_y[:, None, :].expand(height, width, n)  # (H, W, n)
    grid_x = pos_x[None, :, :].expand(height, width, n)  # (H, W, n)
    return torch.cat([grid_y, grid_x], dim=2).permute(2, 0, 1)  # (dim, H, W)


def _activation(name: str) -> nn.Module:
    return nn.GELU() if name == "gelu" else nn.ReLU()


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ACTConfig) -> None:
        super().__init__()
        d = cfg.dim_model
        self.self_attn = nn.MultiheadAttention(
            d, cfg.n_heads, dropout=cfg.dropout, batch_first=True
        )
        self.linear1 = nn.Linear(d, cfg.dim_feedforward)
        self.linear2 = nn.Linear(cfg.dim_feedforward, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(cfg.dropout)
        self.dropout1, self.dropout2 = nn.Dropout(cfg.dropout), nn.Dropout(cfg.dropout)
        self.activation = _activation(cfg.feedforward_activation)
        self.pre_norm = cfg.pre_norm

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = x + pos
        x = self.self_attn(q, k, x, key_padding_mask=key_padding_mask, need_weights=False)[0]
        x = skip + self.dropout1(x)
        if self.pre_norm:
            skip, x = x, self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        x = skip + self.dropout2(x)
        return x if self.pre_norm else self.norm2(x)


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: ACTConfig, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(n_layers))
        self.norm = nn.LayerNorm(cfg.dim_model) if cfg.pre_norm else nn.Identity()

    def forward(self, x: Tensor, pos: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos, key_padding_mask)
        return self.norm(x)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ACTConfig) -> None:
        super().__init__()
        d = cfg.dim_model
        self.self_attn = nn.MultiheadAttention(
            d, cfg.n_heads, dropout=cfg.dropout, batch_first=True
        )
        self.cross_attn = nn.MultiheadAttention(
            d, cfg.n_heads, dropout=cfg.dropout, batch_first=True
        )
        self.linear1 = nn.Linear(d, cfg.dim_feedforward)
        self.linear2 = nn.Linear(cfg.dim_feedforward, d)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(cfg.dropout)
        self.dropout1, self.dropout2 = nn.Dropout(cfg.dropout), nn.Dropout(cfg.dropout)
        self.dropout3 = nn.Dropout(cfg.dropout)
        self.activation = _activation(cfg.feedforward_activation)
        self.pre_norm = cfg.pre_norm

    def forward(self, x: Tensor, memory: Tensor, pos: Tensor, memory_pos: Tensor) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = x + pos
        x = skip + self.dropout1(self.self_attn(q, k, x, need_weights=False)[0])
        if self.pre_norm:
            skip, x = x, self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.cross_attn(x + pos, memory + memory_pos, memory, need_weights=False)[0]
        x = skip + self.dropout2(x)
        if self.pre_norm:
            skip, x = x, self.norm3(x)
        else:
            x = self.norm2(x)
            skip = x
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        x = skip + self.dropout3(x)
        return x if self.pre_norm else self.norm3(x)


class TransformerDecoder(nn.Module):
    def __init__(self, cfg: ACTConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        self.norm = nn.LayerNorm(cfg.dim_model)

    def forward(self, x: Tensor, memory: Tensor, pos: Tensor, memory_pos: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, memory, pos, memory_pos)
        return self.norm(x)
