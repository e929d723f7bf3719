"""The demo's report: ``report.md`` (figures, artefacts, commands to reproduce) and ``report.json``.

:class:`DemoRun` gathers what each stage of ``bricobot demo`` produced and how long it took
(:meth:`DemoRun.stage` times a stage and says what it does); :func:`write_report` turns it into the
two files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


def log(message: str) -> None:
    print(f"[bricobot demo] {message}", file=sys.stderr, flush=True)


@dataclass
class DemoRun:
    """One demo run: its settings, and what its stages produced (filled in as they finish)."""

    out: Path
    cfg: Any  # DemoConfig
    preset: str
    steps: int
    env_name: str
    saved: int = 0
    failed: int = 0
    train_result: Any = None
    eval_result: Any = None
    checkpoint: Path = Path()
    stage_s: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        """Say what the stage does, run it, and record its wall time under ``name``."""
        log(what)
        start = time.perf_counter()
        yield
        self.stage_s[name] = time.perf_counter() - start
        log(f"    {name}: {self.stage_s[name]:.0f} s")

    def relative(self, path: str | Path | None) -> Path | None:
        return Path(path).resolve().relative_to(self.out.resolve()) if path else None


def write_report(run: DemoRun) -> Path:
    """``report.md`` and ``report.json`` in ``run.out``; returns the Markdown path."""
    lines = _summary_lines(run)
    plot = run.relative(run.train_result.plot_path)
    if plot:
        lines += ["## Loss curves", "", f"![loss curves]({plot})", ""]
    videos = run.eval_result.video_paths
    if videos:
        lines += ["## Rollout", "", f"[first evaluation episode]({run.relative(videos[0])})", ""]
    lines += _reproduce_lines(run)
    path = run.out / "report.md"
    path.write_text("\n".join(lines))
    summary = {
        "eval": run.eval_result.summary(),
        "stage_s": run.stage_s,
        "preset": run.preset,
        "steps": run.steps,
        "demos": run.saved,
        "expert_failures": run.failed,
        "config": dataclasses.asdict(run.cfg),
    }
    (run.out / "report.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return path


def _summary_lines(run: DemoRun) -> list[str]:
    cfg, ev, tr = run.cfg, run.eval_result, run.train_result
    s = ev.summary()
    val = (
        f"- Final validation loss: {tr.val_losses[-1][1]:.4f}"
        if tr.val_losses
        else "- No validation split."
    )
    return [
        "# bricobot demo report",
        "",
        f"**Success rate: {100 * ev.success_rate:.1f} %** "
        f"({s['successes']}/{s['episodes']} episodes, 95 % Wilson interval "
        f"{100 * ev.ci_low:.1f}–{100 * ev.ci_high:.1f} %), evaluation seeds "
        f"{cfg.eval_seed_start}…{cfg.eval_seed_start + cfg.eval_episodes - 1}; demonstration seeds "
        f"start at {cfg.demo_seed_start} ({run.saved} kept, {run.failed} expert failures discarded).",
        "",
        "| stage | time |",
        "|---|---|",
        *(f"| {k} | {v / 60:.1f} min ({v:.0f} s) |" for k, v in run.stage_s.items()),
        "",
        f"- Policy: `{run.preset}`, {run.steps} steps, {tr.steps_per_s:.1f} steps/s, "
        f"{100 * tr.data_wait_share:.1f} % of step time waiting for data.",
        val,
        f"- Checkpoint: `{run.relative(run.checkpoint)}`",
        f"- Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {'CUDA' if torch.cuda.is_available() else 'no GPU'}.",
        "",
    ]


def _reproduce_lines(run: DemoRun) -> list[str]:
    cfg = run.cfg
    return [
        "## Reproduce",
        "",
        "```bash",
        f"bricobot demo  # this whole run (output in {run.out})",
        "# or stage by stage:",
        f"bricobot train policy={run.preset} dataset.root={run.out / 'dataset'} "
        f"trainer.steps={run.steps} trainer.seed={cfg.seed}",
        f"bricobot eval policy_path={run.checkpoint} env={run.env_name} "
        f"eval.episodes={cfg.eval_episodes} eval.seed_start={cfg.eval_seed_start}",
        "```",
        "",
    ]
