"""Success rate of the scripted PickCube expert over seeded episodes, as JSON.

python scripts/expert_success.py --episodes 200
"""

from __future__ import annotations

import argparse
import json
import time

from bricobot.envs.experts import run_expert
from bricobot.envs.metrics import wilson_interval
from bricobot.envs.tasks.pick_cube import PickCube, PickCubeConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="first seed; seeds are consecutive")
    args = parser.parse_args()
    task = PickCube(PickCubeConfig(cameras=[]))
    start = time.perf_counter()
    run = run_expert(task, list(range(args.seed, args.seed + args.episodes)), progress=True)
    k, n = sum(run.successes), len(run.successes)
    low, high = wilson_interval(k, n)
    failed = [args.seed + i for i, ok in enumerate(run.successes) if not ok]
    print(
        json.dumps(
            {
                "episodes": n,
                "successes": k,
                "success_rate": k / n,
                "wilson95": [round(low, 4), round(high, 4)],
                "failed_seeds": failed,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
