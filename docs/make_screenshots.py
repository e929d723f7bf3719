"""Regenerate ``docs/viewer_dataset.png`` and ``docs/viewer_run.png`` from real simulated data.

Records expert demonstrations of the PickCube sim task through the real recorder (or takes
``--dataset``), trains ACT (``act_cpu``) for a few hundred steps with periodic evaluation that saves
rollout videos (or takes ``--run``), serves each folder with the viewer and screenshots the page
in headless Chromium (Debian's ``chromium``, driven by Playwright).

    python docs/make_screenshots.py --work /tmp/shots            # about 10 min on 2 CPU cores
    python docs/make_screenshots.py --dataset data/pick_cube --run outputs/train/<time>
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def env_config() -> Any:
    from bricobot.envs.tasks.pick_cube import PickCubeConfig

    return PickCubeConfig(
        cameras=["front", "wrist"], image_height=128, image_width=128, episode_length=120
    )


def record(root: Path, episodes: int) -> Path:
    from bricobot.evaluation.demo import record_demos

    record_demos(env_config(), root, episodes, 0, "Pick up the red cube and lift it.")
    return root


def train_with_eval(dataset: Path, out: Path, steps: int) -> Path:
    """A short real training run: validation loss, eval every steps/3 with one rollout video."""
    from bricobot.evaluation.sim_eval import EvalConfig, sim_eval_fn
    from bricobot.policies.presets import load_preset
    from bricobot.training.config import TrainerConfig
    from bricobot.training.data import DataConfig, open_training_data
    from bricobot.training.trainer import train

    policy = load_preset("act_cpu", image_size=[64, 64])
    data_cfg = DataConfig(str(dataset), frame_cache=True, frame_cache_dir=str(out / "cache"))
    trainer = TrainerConfig(
        steps=steps, val_fraction=0.1, val_every=steps // 10, log_every=max(1, steps // 50),
        eval_every=steps // 3, save_every=steps,
    )  # fmt: skip
    evaluation = EvalConfig(episodes=6, num_envs=6, videos=1, progress=False)
    data = open_training_data(data_cfg, policy, trainer.val_fraction, trainer.seed, True)
    eval_fn = sim_eval_fn(env_config(), evaluation, out / "run" / "eval")
    train(data, trainer, out / "run", eval_fn=eval_fn)
    return out / "run"


def screenshot(root: Path, png: Path, prepare: Any, full_page: bool = False) -> None:
    from playwright.sync_api import sync_playwright

    from bricobot.viewer.server import ViewerServer

    server = ViewerServer(root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            chromium = shutil.which("chromium") or "/usr/bin/chromium"
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            prepare(page)
            page.screenshot(path=str(png), full_page=full_page)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"wrote {png}")


def prepare_dataset(page: Any) -> None:
    """Play a second of episode 0, pause, and wait for validate's findings."""
    page.wait_for_function("window.bricobotViewer.jointCharts.length > 0", timeout=120_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#videos video')].every(v => v.readyState >= 2)"
    )
    page.keyboard.press(" ")
    time.sleep(1.2)
    page.keyboard.press(" ")
    page.wait_for_function(
        "!document.querySelector('#validation-status').textContent.includes('validating')",
        timeout=600_000,
    )


def prepare_run(page: Any) -> None:
    """Wait for the curves and for the rollout videos' first frames."""
    page.wait_for_function("window.bricobotViewer.version > 0", timeout=60_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#videos video')].every(v => v.readyState >= 2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/bricobot-screenshots"))
    parser.add_argument("--dataset", type=Path, help="an existing dataset (else: record one)")
    parser.add_argument("--run", type=Path, help="an existing training run (else: train one)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    dataset = args.dataset or args.work / "dataset"
    if args.dataset is None and not dataset.exists():
        record(dataset, args.episodes)
    run = args.run or args.work / "train" / "run"
    if args.run is None and not (run / "metrics.jsonl").exists():
        train_with_eval(dataset, args.work / "train", args.steps)
    screenshot(dataset, DOCS / "viewer_dataset.png", prepare_dataset)
    # The viewport holds the curves; Debian's Chromium draws the H.264 rollout videos black.
    screenshot(run, DOCS / "viewer_run.png", prepare_run)


if __name__ == "__main__":
    main()
