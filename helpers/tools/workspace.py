"""The practice workspace: `make lab` opens copies of the runbook pages, never notebooks/ itself, so
practising (JupyterLab saves results into the notebook it shows) never edits a tracked file.

    outputs/_practice/            ignored by git, like every record under outputs/
      00_preflight.ipynb …        copies of notebooks/*.ipynb and the landing page README.md
      .sources.json               the SHA-256 of each committed page when it was copied
      _previous/                  an engineer's copy set aside when its page was replaced

Every start brings the copies up to date: a page missing from the workspace is copied; a page whose
committed version changed since it was copied is copied again, and the engineer's copy, if they
changed it, is first set aside under _previous/ (never deleted). `--reset` replaces every copy the
same way, for a fresh start. The folder name starts with an underscore, which no tenant's records
folder can (they are named after host names).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PRACTICE = ROOT / "outputs" / "_practice"
SOURCES = ".sources.json"
PREVIOUS = "_previous"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pages(source: Path = NOTEBOOKS) -> list[Path]:
    """The files a practice workspace holds copies of: the runbook notebooks and the landing page."""
    return sorted(source.glob("*.ipynb")) + [p for p in [source / "README.md"] if p.is_file()]


def prepare(folder: Path = PRACTICE, source: Path = NOTEBOOKS, *, reset: bool = False,
            say: Callable[[str], None] = print, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Path:
    """Bring the workspace's copies up to date with `source` (all of them with `reset`); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / SOURCES
    try:
        copied = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        copied = {}
    copied = copied if isinstance(copied, dict) else {}
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    for page in pages(source):
        copy, committed = folder / page.name, _sha256(page)
        if copy.exists() and not reset and copied.get(page.name) == committed:
            continue  # up to date: the engineer's work in it stays as it is
        if copy.exists() and _sha256(copy) not in (copied.get(page.name), committed):
            aside = folder / PREVIOUS / f"{copy.stem}-{stamp}{copy.suffix}"
            aside.parent.mkdir(exist_ok=True)
            copy.replace(aside)
            say(f"{page.name}: {'reset' if reset else 'the runbook page changed'}; your copy is kept as {aside}")
        shutil.copyfile(page, copy)
        copied[page.name] = committed
    record_path.write_text(json.dumps(copied, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return folder
