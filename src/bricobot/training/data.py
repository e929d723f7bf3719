"""The one data path from a recorded dataset to a policy: reader → DataLoader workers → batches.

Every training run (``bricobot train``, the demo, DDP under ``torchrun``) reads through
:class:`~bricobot.datasets.reader.BricobotDataset`: the numeric columns are held in memory (small),
camera frames are decoded in the DataLoader workers (each keeps its video files open; keyframes every
2 frames make a random frame cheap) or read from the on-disk decoded-frame cache, resized to the
policy's ``image_size`` on the way. Memory grows with workers × batch × prefetch, never with the
number of episodes. Images reach the trainer as uint8 and become floats on the training device.

A sample at frame ``i`` holds the policy's inputs at ``i + observation_delta_indices`` and the actions
at ``i + action_delta_indices``; actions past either end of the episode repeat the edge value and are
flagged in ``action_is_pad``. The train/validation split is by episode, chosen by a seed. Batches
come from :class:`EpochBatchSampler`: seeded epoch permutations, so a resumed run sees exactly the
batches an uninterrupted one would have.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bricobot.datasets import layout
from bricobot.datasets.frame_cache import FrameCache
from bricobot.datasets.metadata import DatasetError, DatasetMeta, repair_hint
from bricobot.datasets.reader import BricobotDataset
from bricobot.datasets.stats import Stats
from bricobot.datasets.stats_file import training_stats
from bricobot.errors import BricobotError
from bricobot.policies.base import (
    ACTION_KEY,
    STATE_KEY,
    FeatureConfig,
    PolicyConfig,
    is_image_key,
)
from bricobot.policies.preprocessing import stored_image_hw

#: Keys of a batch besides the policy's inputs and the action chunk.
INDEX_KEYS = ("episode_index", "frame_index")


class TrainingDataError(BricobotError):
    """The dataset cannot feed this policy; the message names the feature or setting."""


@dataclass
class DataConfig:
    """Which dataset a run trains on and how it is read."""

    #: Folder of a recorded dataset (required).
    root: str = ""
    #: Episodes to use (all when empty).
    episodes: list[int] = field(default_factory=list)
    #: Decode every frame once into an on-disk cache at the policy's input size (reused by later
    #: runs; rebuilt when the dataset changes). Off: frames are decoded from video in the workers.
    frame_cache: bool = False
    #: Where caches live (default: $BRICOBOT_CACHE_DIR, else ~/.cache/bricobot/frames).
    frame_cache_dir: str | None = None
    #: DataLoader worker processes; None picks min(4, CPUs - 1) (at least 1).
    num_workers: int | None = None
    #: Batches each worker prepares ahead.
    prefetch_factor: int = 2

    def __post_init__(self) -> None:
        if self.num_workers is not None and self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.prefetch_factor < 1:
            raise ValueError(f"prefetch_factor must be >= 1, got {self.prefetch_factor}")

    def workers(self) -> int:
        if self.num_workers is not None:
            return self.num_workers
        return max(1, min(4, (os.cpu_count() or 2) - 1))


def dataset_features(meta: DatasetMeta) -> dict[str, FeatureConfig]:
    """The policy-relevant features of a dataset (state, action, cameras) as FeatureConfig."""
    out: dict[str, FeatureConfig] = {}
    for key, spec in meta.features.items():
        if key in (STATE_KEY, ACTION_KEY):
            names = spec.get("names") or []
            if isinstance(names, dict):  # LeRobot v2 style {"motors": [...]}
                names = next(iter(names.values()), [])
            out[key] = FeatureConfig(shape=[int(s) for s in spec["shape"]], names=list(names))
        elif is_image_key(key):
            out[key] = FeatureConfig(shape=[int(s) for s in spec["shape"]])
    return out


def features_for_policy(
    data_features: Mapping[str, FeatureConfig], config: PolicyConfig
) -> tuple[dict[str, FeatureConfig], dict[str, FeatureConfig]]:
    """The policy's input/output features from the data's, honouring ``config.cameras`` and its
    normalization mapping. Raises naming a camera or feature the data does not have."""
    mapping = config.normalization_mapping
    inputs: dict[str, FeatureConfig] = {}
    if STATE_KEY in data_features:
        f = data_features[STATE_KEY]
        inputs[STATE_KEY] = FeatureConfig(
            list(f.shape), mapping.get("state", "mean_std"), list(f.names)
        )
    cams = [k for k in data_features if is_image_key(k)]
    if config.cameras:
        wanted = [f"observation.images.{c}" for c in config.cameras]
        missing = [w for w in wanted if w not in cams]
        if missing:
            raise TrainingDataError(
                f"the dataset has no camera {missing}; it has {cams or 'none'}: fix policy.cameras"
            )
        cams = wanted
    for key in cams:
        inputs[key] = FeatureConfig(
            list(data_features[key].shape), mapping.get("visual", "mean_std")
        )
    if ACTION_KEY not in data_features:
        raise TrainingDataError(
            "the dataset has no 'action' feature, which the policy learns to output: train on a "
            "dataset recorded with actions (`bricobot dataset validate root=<folder>` checks one)"
        )
    f = data_features[ACTION_KEY]
    outputs = {
        ACTION_KEY: FeatureConfig(list(f.shape), mapping.get("action", "mean_std"), list(f.names))
    }
    return inputs, outputs


def split_episodes(
    episodes: Sequence[int], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Train and validation episodes; no validation episodes when there would be none or one left."""
    n_val = round(len(episodes) * val_fraction)
    if val_fraction <= 0 or n_val == 0 or len(episodes) < 2:
        return list(episodes), []
    n_val = min(n_val, len(episodes) - 1)
    order = np.random.default_rng(seed).permutation(len(episodes))
    val = sorted(int(episodes[i]) for i in order[:n_val])
    train = sorted(int(episodes[i]) for i in order[n_val:])
    return train, val


def delta_timestamps(config: PolicyConfig, fps: float) -> dict[str, list[float]]:
    """Offsets in seconds of every windowed key: the action chunk, and the inputs when the policy
    looks at more than the current frame."""
    out = {ACTION_KEY: [i / fps for i in config.action_delta_indices]}
    if list(config.observation_delta_indices) != [0]:
        for key in config.input_features:
            out[key] = [i / fps for i in config.observation_delta_indices]
    return out


@dataclass
class TrainingData:
    """What a run trains on: the readers of the train and validation episodes, the policy config
    with its feature spec filled in from the dataset, and the dataset's normalization statistics."""

    config: PolicyConfig
    train: BricobotDataset
    val: BricobotDataset | None
    stats: dict[str, Stats]
    data_config: DataConfig
    meta: DatasetMeta

    @property
    def batch_keys(self) -> list[str]:
        return [*self.config.input_features, ACTION_KEY, f"{ACTION_KEY}_is_pad", *INDEX_KEYS]


def open_training_data(
    data_config: DataConfig,
    policy_config: PolicyConfig,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> TrainingData:
    """Open ``data_config.root`` for ``policy_config``: features, split, statistics, frame cache.

    A ``policy_config`` whose features are already set (a resumed run) must match the dataset's.
    """
    if not data_config.root:
        raise TrainingDataError("no dataset given: set dataset.root=<folder of a recorded dataset>")
    meta = DatasetMeta.load(data_config.root)
    try:
        inputs, outputs = features_for_policy(dataset_features(meta), policy_config)
    except TrainingDataError as exc:
        raise TrainingDataError(f"{meta.root / layout.INFO_PATH}: {exc}") from None
    if policy_config.input_features:
        _check_same_features(policy_config, inputs, outputs, meta.root)
    else:
        policy_config = policy_config.with_features(inputs, outputs)
    episodes = data_config.episodes or list(range(meta.total_episodes))
    _check_episodes(meta, episodes)
    cameras = policy_config.image_keys
    _check_files(meta, episodes, [] if data_config.frame_cache else cameras)
    train_eps, val_eps = split_episodes(episodes, val_fraction, seed)
    stats = training_stats(meta, list(policy_config.all_features()), progress)
    size = stored_image_hw(policy_config, cameras[0]) if cameras else None
    cache = None
    if data_config.frame_cache and cameras:
        cache = FrameCache.open_or_build(
            meta, size, data_config.frame_cache_dir, cameras, progress=progress
        )
    open_reader = functools.partial(
        BricobotDataset,
        meta.root,
        delta_timestamps=delta_timestamps(policy_config, meta.fps),
        frame_cache=cache or False,
        image_size=size,
        uint8_images=True,
        cameras=cameras,
    )
    val = open_reader(episodes=val_eps) if val_eps else None
    return TrainingData(
        policy_config, open_reader(episodes=train_eps), val, stats, data_config, meta
    )


def _check_episodes(meta: DatasetMeta, episodes: Sequence[int]) -> None:
    """Refuse episode numbers the dataset does not have, and a dataset without episodes."""
    if meta.total_episodes == 0:
        raise TrainingDataError(
            f"{meta.root} has no saved episodes (nothing in {meta.root / layout.EPISODES_DIR}; "
            f"info.json counts {meta.info.get('total_episodes', 0)}): record some, or "
            f"{repair_hint(meta.root)} to rebuild the metadata from the data files"
        )
    bad = sorted({int(e) for e in episodes if not 0 <= int(e) < meta.total_episodes})
    if bad:
        raise TrainingDataError(
            f"episodes {bad} do not exist in {meta.root}, which has episodes "
            f"0…{meta.total_episodes - 1}: fix dataset.episodes=[...] (empty = all)"
        )


def _check_files(meta: DatasetMeta, episodes: Sequence[int], cameras: Sequence[str]) -> None:
    """Every data file, and the video file of every camera in ``cameras``, of ``episodes`` exists.

    Checked up front because a file found missing later, in a DataLoader worker, stops the run
    with the worker's traceback; a damaged file is still found when it is read."""
    videos = [key for key in cameras if key in meta.video_keys]
    seen: set[Path] = set()
    for ep in episodes:
        for path in [meta.data_path(ep), *(meta.video_path(ep, key) for key in videos)]:
            if path in seen:
                continue
            seen.add(path)
            if not path.is_file():
                raise DatasetError(
                    f"{path} is missing (episode {ep} uses it): {repair_hint(meta.root)} to drop "
                    "the episodes that use it, or leave them out with dataset.episodes=[...]"
                )


def _check_same_features(
    config: PolicyConfig,
    inputs: Mapping[str, FeatureConfig],
    outputs: Mapping[str, FeatureConfig],
    root: Path,
) -> None:
    def spec(features: Mapping[str, FeatureConfig]) -> dict[str, tuple[Any, ...]]:
        return {k: (tuple(f.shape), tuple(f.names)) for k, f in features.items()}

    have, want = spec({**inputs, **outputs}), spec(config.all_features())
    if have != want:
        keys = sorted(k for k in {*have, *want} if have.get(k) != want.get(k))
        diff = "; ".join(
            f"{k}: checkpoint {want.get(k, 'none')}, dataset {have.get(k, 'none')}"
            for k in keys[:4]
        )
        raise TrainingDataError(
            f"{root} does not match the checkpoint's features (shape, names): {diff}; resume on "
            "the dataset the run started with"
        )


def collate_policy_batch(
    items: list[dict[str, Any]], keys: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Stack the ``keys`` of a list of reader items into batch tensors ``(B, ...)``."""
    return {k: torch.stack([torch.as_tensor(item[k]) for item in items]) for k in keys}


class EpochBatchSampler:
    """Seeded epoch permutations cut into global batches; each rank takes its slice.

    The number of batches already consumed is the whole state: batch ``n`` is batch ``n mod B`` of
    epoch ``n // B`` (``B`` batches per epoch), so a resumed run continues with exactly the batch an
    uninterrupted run would have seen next.
    """

    def __init__(
        self,
        num_samples: int,
        global_batch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
    ) -> None:
        if global_batch % world_size:
            raise TrainingDataError(
                f"batch size {global_batch} is not divisible by {world_size} processes"
            )
        if num_samples < global_batch:
            raise TrainingDataError(
                f"only {num_samples} training frames for a batch of {global_batch}: record more "
                "episodes or lower the batch size (trainer.batch_size=...)"
            )
        self.num_samples, self.global_batch = num_samples, global_batch
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.batches_per_epoch = num_samples // global_batch
        self.start_batch = start_batch

    def rows(self, batch_number: int) -> np.ndarray:
        """This rank's rows of global batch ``batch_number``."""
        epoch, index = divmod(batch_number, self.batches_per_epoch)
        perm = _permutation(self.seed, epoch, self.num_samples)
        start = index * self.global_batch
        return perm[start : start + self.global_batch][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        n = self.start_batch
        while True:
            yield self.rows(n).tolist()
            n += 1

    def epoch_of(self, batch_number: int) -> int:
        return batch_number // self.batches_per_epoch

    def state_dict(self, batches_consumed: int) -> dict[str, Any]:
        return {"seed": self.seed, "batch": batches_consumed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue after the batches ``state`` says were consumed (older files: epoch/position)."""
        self.seed = int(state["seed"])
        if "batch" in state:
            self.start_batch = int(state["batch"])
        else:
            self.start_batch = int(state["epoch"]) * self.batches_per_epoch + int(state["position"])


@functools.lru_cache(maxsize=2)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _init_worker(_: int) -> None:
    """Each worker decodes on one thread: workers are the parallelism."""
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a dependency
        pass


def make_loader(
    dataset: BricobotDataset,
    batches: Iterator[list[int]] | EpochBatchSampler | Sequence[list[int]],
    keys: Sequence[str],
    num_workers: int,
    prefetch_factor: int = 2,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader[Any]:
    """A DataLoader over ``dataset`` yielding the index lists of ``batches`` as collated batches."""
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"prefetch_factor": prefetch_factor, "worker_init_fn": _init_worker}
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=functools.partial(collate_policy_batch, keys=list(keys)),
        pin_memory=pin_memory,
        # Its own generator: creating the loader must not draw from the global torch RNG, or a
        # resumed run's random stream (dropout, VAE noise, augmentation) would shift.
        generator=torch.Generator().manual_seed(0),
        **extra,
    )
