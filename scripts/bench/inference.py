"""Inference latency per control step (one ``select_action`` call, batch 1).

Cases: ACT with its chunk queue (one forward every n_action_steps calls), ACT with temporal
ensembling (a forward every call), Diffusion with 10 DDIM steps (a full denoising every
n_action_steps calls). Reports mean, p50, p95 and max in milliseconds, on CPU and on a GPU when
one is available, as JSON.

    python scripts/bench/inference.py
    python scripts/bench/inference.py --presets act_cpu diffusion_cpu --calls 100
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from bricobot.policies.base import FeatureConfig
from bricobot.policies.checkpoint import make_policy
from bricobot.policies.presets import load_preset

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
IMAGE = {"act_cpu": 64, "diffusion_cpu": 64, "act": 96, "diffusion": 96}


def features(image: int) -> tuple[dict[str, FeatureConfig], dict[str, FeatureConfig]]:
    names = [f"{j}.pos" for j in JOINTS]
    return (
        {
            "observation.state": FeatureConfig(shape=[6], names=names),
            "observation.images.front": FeatureConfig(shape=[image, image, 3]),
        },
        {"action": FeatureConfig(shape=[6], names=names)},
    )


def stats() -> dict[str, dict[str, np.ndarray]]:
    vec = {"mean": np.zeros(6), "std": np.ones(6), "min": -np.ones(6), "max": np.ones(6)}
    img = {"mean": np.full(3, 0.5), "std": np.full(3, 0.25), "min": np.zeros(3), "max": np.ones(3)}
    return {"observation.state": vec, "action": vec, "observation.images.front": img}


def cases(presets: list[str]) -> list[tuple[str, str, dict[str, object]]]:
    out: list[tuple[str, str, dict[str, object]]] = []
    for p in presets:
        if p.startswith("act"):
            out.append((f"{p}/chunk_queue", p, {}))
            out.append(
                (
                    f"{p}/temporal_ensembling",
                    p,
                    {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1},
                )
            )
        else:
            out.append((f"{p}/ddim10", p, {"num_inference_steps": 10}))
    return out


def bench(
    name: str, preset: str, overrides: dict[str, object], device: str, calls: int
) -> dict[str, object]:
    image = IMAGE.get(preset, 64)
    inputs, outputs = features(image)
    cfg = replace(load_preset(preset, **overrides), input_features=inputs, output_features=outputs)
    policy = make_policy(cfg, stats()).to(device).eval()
    obs = {
        "observation.state": torch.zeros(1, 6, device=device),
        "observation.images.front": torch.rand(1, 3, image, image, device=device),
    }
    for _ in range(3):
        policy.select_action(obs)
    policy.reset()
    times = []
    for _ in range(calls):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        policy.select_action(obs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(1000 * (time.perf_counter() - t0))
    ms = np.asarray(times)
    return {
        "case": name,
        "device": device,
        "image": [image, image],
        "calls": calls,
        "mean_ms": round(float(ms.mean()), 3),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--presets", nargs="*", default=["act_cpu", "act", "diffusion_cpu", "diffusion"]
    )
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    with torch.inference_mode():
        for device in devices:
            for name, preset, overrides in cases(args.presets):
                results.append(bench(name, preset, overrides, device, args.calls))
    print(
        json.dumps(
            {"benchmark": "inference", "threads": torch.get_num_threads(), "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
