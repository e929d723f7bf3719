"""Training data held in memory: frames of every episode, windows around a frame, batches.

Episodes are decoded once into contiguous arrays (state/action float32, images uint8 ``(N, H, W,
3)``), so a training step gathers a whole batch with a few vectorized index operations and never
waits on video decoding (the decoded-frame cache of user problem 17). A sample at frame ``i`` is
the observation frames ``i + observation_delta_indices`` (clamped to the episode) and the actions
``i + action_delta_indices``; actions past either end of the episode are repeated edge values
flagged in ``action_is_pad``, so losses can ignore them.

The train/validation split is by episode, chosen by a seed, so validation frames never leak into
training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bricobot.policies.base import (
    ACTION_KEY,
    STATE_KEY,
    FeatureConfig,
    PolicyConfig,
    is_image_feature,
)

#: Smallest standard deviation used for normalization (a joint that never moves in the data
#: would otherwise divide by ~0).
MIN_STD = 1e-2


@dataclass
class EpisodeData:
    """Every frame of a set of episodes, concatenated; ``episode_starts[e]`` is episode e's first row."""

    arrays: dict[str, np.ndarray]
    episode_starts: np.ndarray  # (E,)
    episode_lengths: np.ndarray  # (E,)
    features: dict[str, FeatureConfig]
    fps: float = 30.0

    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[Mapping[str, np.ndarray]],
        features: Mapping[str, FeatureConfig],
        fps: float = 30.0,
    ) -> EpisodeData:
        """Build from a list of ``{feature: (T, ...) array}`` episodes (T may differ per episode)."""
        if not episodes:
            raise ValueError("no episodes: record some demonstrations first")
        keys = list(features)
        lengths = []
        for e, episode in enumerate(episodes):
            missing = [k for k in keys if k not in episode]
            if missing:
                raise KeyError(f"episode {e} has no {missing}")
            n = {len(episode[k]) for k in keys}
            if len(n) != 1:
                raise ValueError(f"episode {e}: features have different lengths {sorted(n)}")
            lengths.append(n.pop())
        arrays = {}
        for key in keys:
            dtype = np.uint8 if is_image_feature(key) else np.float32
            arrays[key] = np.concatenate([np.asarray(ep[key], dtype=dtype) for ep in episodes])
        lengths_arr = np.asarray(lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths_arr)[:-1]]).astype(np.int64)
        return cls(arrays, starts, lengths_arr, dict(features), fps)

    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    @property
    def num_frames(self) -> int:
        return int(self.episode_lengths.sum())

    def select(self, episodes: Sequence[int]) -> EpisodeData:
        """A copy holding only the given episodes (in that order)."""
        rows = np.concatenate(
            [
                np.arange(self.episode_starts[e], self.episode_starts[e] + self.episode_lengths[e])
                for e in episodes
            ]
        )
        lengths = self.episode_lengths[list(episodes)]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        arrays = {k: v[rows] for k, v in self.arrays.items()}
        return EpisodeData(arrays, starts, lengths, dict(self.features), self.fps)

    def split(self, val_fraction: float, seed: int) -> tuple[EpisodeData, EpisodeData | None]:
        """Train and validation sets by episode; no validation set when it would be empty."""
        n_val = round(self.num_episodes * val_fraction)
        if val_fraction <= 0 or n_val == 0 or self.num_episodes < 2:
            return self, None
        n_val = min(n_val, self.num_episodes - 1)
        order = np.random.default_rng(seed).permutation(self.num_episodes)
        val = sorted(int(e) for e in order[:n_val])
        train = sorted(int(e) for e in order[n_val:])
        return self.select(train), self.select(val)

    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """Mean/std/min/max per feature; images per channel in [0, 1], shaped ``(3,)``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for key, values in self.arrays.items():
            if is_image_feature(key):
                step = max(1, len(values) // 2000)  # a subsample is plenty for channel statistics
                x = values[::step].reshape(-1, 3).astype(np.float64) / 255.0
            else:
                x = values.astype(np.float64).reshape(len(values), -1)
            out[key] = {
                "mean": x.mean(0).astype(np.float32),
                "std": np.maximum(x.std(0), MIN_STD).astype(np.float32),
                "min": x.min(0).astype(np.float32),
                "max": x.max(0).astype(np.float32),
            }
        return out

    def locate(self, rows: Sequence[int]) -> list[tuple[int, int]]:
        """``(episode, frame)`` of each global row index (for error messages)."""
        ends = self.episode_starts + self.episode_lengths
        out = []
        for r in rows:
            e = int(np.searchsorted(ends, r, side="right"))
            out.append((e, int(r - self.episode_starts[e])))
        return out


def features_for_policy(
    data_features: Mapping[str, FeatureConfig], config: PolicyConfig
) -> tuple[dict[str, FeatureConfig], dict[str, FeatureConfig]]:
    """The policy's input/output features from the data's, honouring ``config.cameras`` and its
    normalization mapping. Raises naming a camera the data does not have."""
    mapping = config.normalization_mapping
    inputs: dict[str, FeatureConfig] = {}
    if STATE_KEY in data_features:
        f = data_features[STATE_KEY]
        inputs[STATE_KEY] = FeatureConfig(
            list(f.shape), mapping.get("state", "mean_std"), list(f.names)
        )
    cams = [k for k in data_features if is_image_feature(k)]
    if config.cameras:
        wanted = [f"observation.images.{c}" for c in config.cameras]
        missing = [w for w in wanted if w not in cams]
        if missing:
            raise KeyError(f"the dataset has no camera {missing}; it has {cams or 'none'}")
        cams = wanted
    for key in cams:
        inputs[key] = FeatureConfig(
            list(data_features[key].shape), mapping.get("visual", "mean_std")
        )
    if ACTION_KEY not in data_features:
        raise KeyError("the dataset has no 'action' feature")
    f = data_features[ACTION_KEY]
    outputs = {
        ACTION_KEY: FeatureConfig(list(f.shape), mapping.get("action", "mean_std"), list(f.names))
    }
    return inputs, outputs


class WindowBatcher:
    """Gathers training batches (observation windows, action chunks, padding flags) by row index."""

    def __init__(self, data: EpisodeData, config: PolicyConfig) -> None:
        self.data = data
        self.obs_deltas = np.asarray(config.observation_delta_indices, dtype=np.int64)
        self.action_deltas = np.asarray(config.action_delta_indices, dtype=np.int64)
        self.input_keys = list(config.input_features)
        ep_of_row = np.repeat(np.arange(data.num_episodes), data.episode_lengths)
        self.row_start = data.episode_starts[ep_of_row]  # (N,)
        self.row_end = self.row_start + data.episode_lengths[ep_of_row] - 1  # (N,) inclusive

    def __len__(self) -> int:
        return self.data.num_frames

    def batch(self, rows: np.ndarray) -> dict[str, Tensor]:
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self.row_start[rows, None], self.row_end[rows, None]  # (B, 1)
        obs_idx = np.clip(rows[:, None] + self.obs_deltas[None], lo, hi)  # (B, T_obs)
        raw_act = rows[:, None] + self.action_deltas[None]  # (B, H)
        act_idx = np.clip(raw_act, lo, hi)
        out: dict[str, Tensor] = {}
        squeeze = len(self.obs_deltas) == 1
        for key in self.input_keys:
            values = self.data.arrays[key][obs_idx]  # (B, T_obs, ...)
            t = torch.from_numpy(values)
            if is_image_feature(key):
                t = t.permute(0, 1, 4, 2, 3).float().div_(255.0)  # (B, T, 3, H, W)
            out[key] = t[:, 0] if squeeze else t
        out[ACTION_KEY] = torch.from_numpy(self.data.arrays[ACTION_KEY][act_idx])  # (B, H, A)
        out["action_is_pad"] = torch.from_numpy((raw_act < lo) | (raw_act > hi))  # (B, H)
        return out


class GlobalBatchSampler:
    """Seeded epoch permutations cut into global batches; each rank takes its slice.

    The position (epoch, batch within the epoch) is the whole state, so a resumed run sees exactly
    the batches an uninterrupted run would have seen.
    """

    def __init__(
        self, num_samples: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if global_batch % world_size:
            raise ValueError(
                f"batch size {global_batch} is not divisible by {world_size} processes"
            )
        if num_samples < global_batch:
            raise ValueError(
                f"only {num_samples} training frames for a batch of {global_batch}; "
                "record more episodes or lower batch_size"
            )
        self.num_samples, self.global_batch = num_samples, global_batch
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.batches_per_epoch = num_samples // global_batch
        self.epoch, self.position = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)

    def next(self) -> tuple[np.ndarray, int, int]:
        """Rows of this rank's share of the next global batch, with (epoch, batch index)."""
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
            self._perm = self._permutation(self.epoch)
        start = self.position * self.global_batch
        rows = self._perm[start : start + self.global_batch][self.rank :: self.world_size]
        epoch, index = self.epoch, self.position
        self.position += 1
        return rows, epoch, index

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation(self.epoch)
