"""Crash-safe file writes: temporary name, flush, fsync, rename, fsync the folder.

Every file a dataset commits goes through :func:`atomic_write_bytes` (or a writer that follows the same
steps), so a reader sees either the old file or the complete new one, never a torn one, even after a
SIGKILL or a power cut. Temporary files end in :data:`TMP_SUFFIX`; ``repair`` removes leftovers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Suffix of files being written; never matched by the ``*.parquet`` / ``*.mp4`` globs of readers.
TMP_SUFFIX = ".tmp"


def tmp_path_for(path: Path) -> Path:
    """Temporary sibling of ``path`` (same folder, so the final rename is atomic)."""
    return path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")


def fsync_file(path: Path) -> None:
    """Flush a closed file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp``, rename it over ``final`` and fsync the folder: the durable commit step."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)``, then commit the temporary file to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    try:
        write(tmp)
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic_write_with(path, write)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=4) + "\n").encode())


def remove_tmp_files(root: Path) -> list[Path]:
    """Delete leftovers of interrupted writes under ``root``; return what was removed."""
    removed = []
    for path in sorted(root.rglob(f"*{TMP_SUFFIX}")):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
