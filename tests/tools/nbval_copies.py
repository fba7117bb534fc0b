"""Copies of the committed notebooks with the reference verdict lines in their checked cells, for
nbval to compare against. The committed notebooks keep no outputs (nothing stale on a fresh page).

    .venv/bin/python -m tests.tools.nbval_copies DIR   # then: pytest --nbval-lax ... DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_output

ROOT = Path(__file__).resolve().parents[2]
REFERENCES = ROOT / "tests" / "notebook_references.json"
CHECKED = "nbval-check-output"


def write_checked_copies(dest: Path) -> list[Path]:
    references = json.loads(REFERENCES.read_text(encoding="utf-8"))
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in references.items():
        nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        for cell in nb.cells:
            if CHECKED in cell.metadata.get("tags", []):
                cell.execution_count = 1  # nbval compares only cells that ran in the reference
                cell.outputs = [new_output("display_data", data={"text/plain": text})]
        nbformat.write(nb, dest / name)
        written.append(dest / name)
    return written


if __name__ == "__main__":
    for path in write_checked_copies(Path(sys.argv[1])):
        print(path)
