"""Where things live in a dataset folder (LeRobot v3.0, and v2.1 for reading), and parquet schemas.

bricobot writes one data file and one video file per camera per episode (the next free file
number, split into ``chunk_index, file_index`` by ``chunks_size``), so that saving an episode never
rewrites a file that holds another episode's frames, and keeps every episode's metadata in one
small parquet file replaced atomically at each save (the commit record). ``compact`` merges the
per-episode files into large ones later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
#: PNG frames of an image dataset while its episode records (embedded in the parquet at save).
IMAGES_DIR = "images/{image_key}/episode-{episode_index:06d}"
DEFAULT_CHUNKS_SIZE = 1000

V21_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V21_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

#: Key of the parquet schema metadata holding a copy of info.json's fps, robot type and features,
#: so that ``repair`` can rebuild a lost or damaged info.json from the data files.
PARQUET_INFO_KEY = b"bricobot_info"


def chunk_and_file(n: int, chunks_size: int) -> tuple[int, int]:
    """(chunk_index, file_index) of the n-th file."""
    return n // chunks_size, n % chunks_size


def arrow_type(spec: Mapping[str, Any]) -> pa.DataType:
    """Arrow type of a non-video feature, as Hugging Face ``datasets`` writes it."""
    dtype, shape = spec["dtype"], tuple(spec["shape"])
    if dtype == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    base = {
        "float32": pa.float32(),
        "float64": pa.float64(),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }[dtype]
    if shape == (1,):
        return base
    if len(shape) == 1:
        return pa.list_(base, shape[0])
    raise ValueError(f"feature shape {shape} not supported in parquet (only (1,) and (n,))")


def arrow_schema(features: Mapping[str, Mapping[str, Any]], info: Mapping[str, Any]) -> pa.Schema:
    """Schema of a data parquet: every non-video feature, with ``info`` in its metadata."""
    fields = [pa.field(k, arrow_type(s)) for k, s in features.items() if s["dtype"] != "video"]
    meta = {
        "fps": info["fps"],
        "robot_type": info.get("robot_type"),
        "features": {k: {**s, "shape": list(s["shape"])} for k, s in features.items()},
    }
    return pa.schema(fields, metadata={PARQUET_INFO_KEY: json.dumps(meta).encode()})


def new_info(
    fps: int,
    robot_type: str,
    features: Mapping[str, Mapping[str, Any]],
    chunks_size: int = DEFAULT_CHUNKS_SIZE,
) -> dict[str, Any]:
    """A v3.0 info.json for an empty dataset."""
    has_video = any(s["dtype"] == "video" for s in features.values())
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": 0,
        "total_frames": 0,
        "total_tasks": 0,
        "chunks_size": chunks_size,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": int(fps),
        "splits": {},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_video else None,
        "features": {k: {**s, "shape": list(s["shape"])} for k, s in features.items()},
    }
