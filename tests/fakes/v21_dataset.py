"""Writes a small LeRobot v2.1 dataset (one parquet and one mp4 per episode, JSON-lines metadata)
with the same synthetic content as :mod:`tests.fakes.fake_dataset`, to test v2.1 reading."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.fakes.fake_dataset import FPS, JOINTS, image_value, state_value


def write_v21_dataset(root: Path, lengths: list[int], hw: tuple[int, int] = (48, 64)) -> Path:
    names = [f"{j}.pos" for j in JOINTS]
    cam = "observation.images.front"
    features = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": names},
        "action": {"dtype": "float32", "shape": [6], "names": names},
        cam: {
            "dtype": "video",
            "shape": [hw[0], hw[1], 3],
            "names": ["height", "width", "channels"],
            "info": {"video.fps": FPS, "video.codec": "h264", "video.pix_fmt": "yuv420p"},
        },
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    info = {
        "codebase_version": "v2.1",
        "robot_type": "fake_arm",
        "total_episodes": len(lengths),
        "total_frames": sum(lengths),
        "total_tasks": 1,
        "total_videos": len(lengths),
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": FPS,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": features,
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    (root / "meta/tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "pick"}) + "\n")
    episodes, ep_stats = [], []
    start = 0
    for e, n in enumerate(lengths):
        state = np.stack([state_value(e, i) for i in range(n)])  # (n, 6)
        table = pa.table(
            {
                "observation.state": pa.array(state.tolist(), pa.list_(pa.float32())),
                "action": pa.array((-state).tolist(), pa.list_(pa.float32())),
                "timestamp": pa.array(np.arange(n, dtype=np.float32) / FPS),
                "frame_index": pa.array(np.arange(n, dtype=np.int64)),
                "episode_index": pa.array(np.full(n, e, dtype=np.int64)),
                "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
                "task_index": pa.array(np.zeros(n, dtype=np.int64)),
            }
        )
        data = root / f"data/chunk-000/episode_{e:06d}.parquet"
        data.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data)
        video = root / f"videos/chunk-000/{cam}/episode_{e:06d}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(video), "w") as container:
            stream = container.add_stream("libx264", rate=FPS, options={"g": "2", "bf": "0"})
            stream.width, stream.height, stream.pix_fmt = hw[1], hw[0], "yuv420p"
            for i in range(n):
                img = np.full((hw[0], hw[1], 3), image_value(e, i, 0), np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        episodes.append({"episode_index": e, "tasks": ["pick"], "length": n})
        stats = {
            "observation.state": {
                "min": state.min(0).tolist(),
                "max": state.max(0).tolist(),
                "mean": state.mean(0).tolist(),
                "std": state.std(0).tolist(),
                "count": [n],
            }
        }
        ep_stats.append({"episode_index": e, "stats": stats})
        start += n
    (root / "meta/episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in episodes))
    (root / "meta/episodes_stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ep_stats))
    return root
