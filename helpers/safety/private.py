"""The runner's private folders (0700, prefix bp-runbook-, the handoff of the secrets) and what a hard
kill leaves of them.

A run removes its folder however it ends, except when it cannot act at all: `kill -9`, a power cut.
So each folder records its owner (`owner.json`: pid and the process's start time, which tells a reused
pid apart), and `sweep` removes every folder of this user whose owner is gone. The next run on the
machine sweeps, as do a fleet, `make lab` and `python -m helpers forget`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "bp-runbook-"
OWNER = "owner.json"
ORPHAN_AFTER_S = 60  # a folder with no owner file yet: another run may be making it right now


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, started: str | None) -> bool:
    """Whether the process that made a folder still runs (the same pid and the same start time)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process holds the pid: ours is gone unless the start time says otherwise
    now = start_time(pid)
    return now is None or started is None or now == started


def make_private(root: Path | str | None = None) -> Path:
    """A new 0700 folder naming its owner (this process)."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    owner = folder / OWNER
    owner.write_text(json.dumps({"pid": os.getpid(), "start": start_time(os.getpid())}), encoding="utf-8")
    owner.chmod(0o600)
    return folder


def sweep(root: Path | str | None = None, clock=time.time) -> list[Path]:
    """Remove this user's private folders under `root` (default: the system's temp folder) whose
    owner process is gone; returns them."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed = []
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return removed
    for folder in candidates:
        try:
            if not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            try:
                owner = json.loads((folder / OWNER).read_text(encoding="utf-8"))
                gone = not alive(int(owner["pid"]), owner.get("start"))
            except (OSError, ValueError, KeyError, TypeError):
                gone = clock() - folder.stat().st_mtime > ORPHAN_AFTER_S
        except OSError:
            continue
        if gone:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


__all__ = ["PREFIX", "make_private", "sweep"]
