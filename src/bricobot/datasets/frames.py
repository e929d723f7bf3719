"""Camera frames of one episode, whatever the storage (video file or PNGs in the data parquet)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bricobot.datasets.metadata import DatasetError, DatasetMeta, read_parquet
from bricobot.datasets.video import VideoDecoder


def decode_png(data: bytes, where: str) -> np.ndarray:
    """PNG bytes → uint8 (H, W, 3) RGB."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot decode the PNG image of {where}: the file is damaged")
    return np.ascontiguousarray(image[:, :, ::-1])


def episode_frames(meta: DatasetMeta, episode_index: int, key: str) -> Iterator[np.ndarray]:
    """Yield every uint8 (H, W, 3) frame of one episode's camera ``key`` in order."""
    ep = meta.episodes[episode_index]
    if key in meta.video_keys:
        start = meta.video_from_timestamp(episode_index, key)
        stop = start + int(ep["length"]) / meta.fps
        yield from VideoDecoder().iter_frames(meta.video_path(episode_index, key), start, stop)
        return
    path = meta.data_path(episode_index)
    table = read_parquet(path, meta.root, columns=[key, "episode_index"])
    eps = table.column("episode_index").to_numpy()
    for i in np.flatnonzero(eps == int(ep["episode_index"])):
        cell = table.column(key)[int(i)].as_py()
        yield decode_png(cell["bytes"], f"{path} row {i}")
