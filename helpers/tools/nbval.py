"""The nbval layer's fixtures, shared by tests/test_notebooks.py and `python -m helpers.tools.refresh`.

The scenario the committed notebooks' reference outputs come from: a fresh default-seed emulator, the
admin's secret in BP_ADMIN_SECRET, no API secret, practice mode off. So 01, 03, 04 and 05 end
action-required, 02 creates the user (changed), and 06 is skipped.

The copies: the committed notebooks with the reference verdict lines in their checked cells, for nbval
to compare against. The committed notebooks keep no outputs (nothing stale on a fresh page).

    .venv/bin/python -m helpers.tools.nbval DIR   # then: pytest --nbval-lax ... DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import requests
from nbformat.v4 import new_output

ROOT = Path(__file__).resolve().parents[2]
REFERENCES = ROOT / "tests" / "notebook_references.json"
CHECKED = "nbval-check-output"  # nbval compares this cell's output (the verdict line) with the reference
SCOPE = "example.brightpattern.com"


def scenario_environment(emulator_url: str, handoff_path: str) -> dict:
    requests.post(emulator_url + "/_emulator/reset", timeout=10).raise_for_status()
    admin_secret = requests.post(f"{emulator_url}/_emulator/tenants/{SCOPE}/users/admin/api-secret",
                                 timeout=10).json()["apiSecret"]
    return {"BP_EMULATOR_URL": emulator_url, "BP_ADMIN_SECRET": admin_secret, "BP_RUNBOOK_HANDOFF": handoff_path,
            "BP_RUNBOOK_HEADLESS": "1"}


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
