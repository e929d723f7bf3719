"""``bricobot dataset <info|validate|repair|compact|edit> [key=value ...]``: dataset tools.

Each subcommand is its own Hydra command (schema below, preset ``hydra_configs/dataset_<sub>.yaml``)
calling library code in :mod:`bricobot.datasets`. ``validate`` exits with 1 when the dataset has
errors; ``edit`` writes a new dataset and never modifies its source.

Examples::

    bricobot dataset info root=data/pick_cube
    bricobot dataset validate root=data/pick_cube
    bricobot dataset repair root=data/pick_cube
    bricobot dataset compact root=data/pick_cube
    bricobot dataset edit root=data/pick_cube op=delete episodes=[3,7] out=data/pick_cube_clean
    bricobot dataset edit root=data/pick_cube op=split episodes=[0,1] out=data/val rest_out=data/train
    bricobot dataset edit root=data/a op=merge others=[data/b] out=data/ab
    bricobot dataset edit root=data/a op=relabel old_task="pick" new_task="pick the cube" out=data/a2
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bricobot.cli.app import run_command

EDIT_OPS = ("delete", "split", "merge", "relabel")


def _need_root(root: str) -> None:
    if not root:
        raise ValueError("root is required: the dataset folder, e.g. root=data/pick_cube")


@dataclass
class DatasetInfoConfig:
    root: str = ""  # dataset folder (v3.0 or v2.1)

    def __post_init__(self) -> None:
        _need_root(self.root)


@dataclass
class DatasetValidateConfig:
    root: str = ""
    idle_s: float = 1.0  # report stretches where the action stays unchanged longer than this
    jump_deg: float = 20.0  # report joints moving more than this in one frame

    def __post_init__(self) -> None:
        _need_root(self.root)


@dataclass
class DatasetRepairConfig:
    root: str = ""

    def __post_init__(self) -> None:
        _need_root(self.root)


@dataclass
class DatasetCompactConfig:
    root: str = ""
    data_file_size_mb: float = 100.0  # LeRobot's default target size of a data file
    video_file_size_mb: float = 200.0  # and of a video file

    def __post_init__(self) -> None:
        _need_root(self.root)


@dataclass
class DatasetEditConfig:
    root: str = ""  # source dataset (only read)
    op: str = ""  # delete | split | merge | relabel
    out: str = ""  # new dataset folder (must not exist)
    episodes: list[int] = field(
        default_factory=list
    )  # delete: to drop; split: go to `out`; relabel: only these (empty = all)
    rest_out: str = ""  # split: folder receiving the other episodes
    others: list[str] = field(default_factory=list)  # merge: datasets appended after `root`
    old_task: str = ""  # relabel
    new_task: str = ""  # relabel

    def __post_init__(self) -> None:
        _need_root(self.root)
        if self.op not in EDIT_OPS:
            raise ValueError(f"op must be one of {', '.join(EDIT_OPS)}, got {self.op!r}")
        if not self.out:
            raise ValueError("out is required: edits write a new dataset folder")


def run_info(cfg: DatasetInfoConfig) -> int:
    from bricobot.datasets.metadata import DatasetMeta

    meta = DatasetMeta.load(cfg.root)
    summary: dict[str, Any] = {
        "root": str(meta.root),
        "codebase_version": meta.version,
        "robot_type": meta.robot_type,
        "fps": meta.fps,
        "episodes": meta.total_episodes,
        "frames": meta.total_frames,
        "duration_s": round(meta.total_frames / meta.fps, 2),
        "tasks": meta.tasks,
        "cameras": {k: meta.features[k]["shape"] for k in meta.camera_keys},
        "features": {k: [s["dtype"], list(s["shape"])] for k, s in meta.features.items()},
        "drifted_episodes": [i for i, ep in enumerate(meta.episodes) if ep.get("timing/drifted")],
    }
    print(json.dumps(summary, indent=2))
    return 0


def run_validate(cfg: DatasetValidateConfig) -> int:
    from bricobot.datasets.validate import validate

    report = validate(cfg.root, idle_s=cfg.idle_s, jump_deg=cfg.jump_deg)
    print(report.summary())
    return 0 if report.ok else 1


def run_repair(cfg: DatasetRepairConfig) -> int:
    from bricobot.datasets.repair import repair

    print(repair(cfg.root).summary())
    return 0


def run_compact(cfg: DatasetCompactConfig) -> int:
    from bricobot.datasets.compact import compact

    r = compact(cfg.root, cfg.data_file_size_mb, cfg.video_file_size_mb)
    print(f"{cfg.root}: {r.episodes} episodes, {r.files_before} files → {r.files_after}")
    return 0


def run_edit(cfg: DatasetEditConfig) -> int:
    from bricobot.datasets import edit
    from bricobot.datasets.metadata import DatasetMeta

    if cfg.op == "delete":
        outs = [edit.delete_episodes(cfg.root, cfg.out, cfg.episodes)]
    elif cfg.op == "split":
        if not cfg.rest_out:
            raise ValueError("split needs rest_out= (the folder for the other episodes)")
        n = DatasetMeta.load(cfg.root).total_episodes
        rest = [i for i in range(n) if i not in set(cfg.episodes)]
        outs = edit.split(cfg.root, {cfg.out: cfg.episodes, cfg.rest_out: rest})
    elif cfg.op == "merge":
        outs = [edit.merge([cfg.root, *cfg.others], cfg.out)]
    else:
        outs = [
            edit.relabel_task(cfg.root, cfg.out, cfg.old_task, cfg.new_task, cfg.episodes or None)
        ]
    for out in outs:
        print(f"wrote {out} (validated)")
    return 0


SUBCOMMANDS: dict[str, tuple[type, Callable[[Any], int], str]] = {
    "info": (DatasetInfoConfig, run_info, "print a dataset's facts as JSON"),
    "validate": (DatasetValidateConfig, run_validate, "check a dataset; exit 1 on errors"),
    "repair": (
        DatasetRepairConfig,
        run_repair,
        "rebuild metadata from the files, drop partial episodes",
    ),
    "compact": (DatasetCompactConfig, run_compact, "merge per-episode files into large files"),
    "edit": (DatasetEditConfig, run_edit, "delete / split / merge / relabel into a NEW dataset"),
}


def usage() -> str:
    lines = ["usage: bricobot dataset <subcommand> [key=value ...]", "", "subcommands:"]
    lines += [f"  {name:<9} {text}" for name, (_, _, text) in SUBCOMMANDS.items()]
    lines += ["", "bricobot dataset <subcommand> --help shows its options."]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    sub, rest = args[0], args[1:]
    if sub not in SUBCOMMANDS:
        print(f"bricobot dataset: unknown subcommand {sub!r}\n\n{usage()}", file=sys.stderr)
        return 2
    schema, run, text = SUBCOMMANDS[sub]

    def guarded(cfg: Any) -> int:
        from bricobot.errors import BricobotError

        try:
            return run(cfg)
        except (BricobotError, ValueError) as exc:
            print(f"bricobot dataset {sub}: {exc}", file=sys.stderr)
            return 1

    try:
        return run_command(
            f"dataset {sub}", schema, guarded, rest, text, config_name=f"dataset_{sub}"
        )
    except ValueError as exc:  # a config's __post_init__ rejected a value
        print(f"bricobot dataset {sub}: {exc}", file=sys.stderr)
        return 2
