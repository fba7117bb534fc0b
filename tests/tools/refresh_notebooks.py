"""Re-record the reference outputs of the committed notebooks (the `# NBVAL_CHECK_OUTPUT` cells).

Runs every notebook in order against a fresh emulator in the nbval scenario (tests/tools/nbval_scenario.py),
then keeps only the outputs of checked cells: no other output, execution count, widget state or
papermill metadata is committed. Review the diff: a changed headline is a changed step outcome.

    .venv/bin/python -m tests.tools.refresh_notebooks
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from emulator import EmulatorServer
from helpers.steps import STEPS

from .nbval_scenario import scenario_environment

ROOT = Path(__file__).resolve().parents[2]


def strip(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            # nbval treats a checked cell without an execution count as unrun: only checked cells keep theirs.
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)


def main() -> None:
    with EmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(scenario_environment(server.url, str(Path(tmp) / "handoff.json")))
        for step in STEPS.values():
            path = ROOT / "notebooks" / step.notebook
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                           timeout=120).execute()
            strip(nb)
            nbformat.write(nb, path)
            checked = [c for c in nb.cells if "NBVAL_CHECK_OUTPUT" in c.get("source", "")]
            text = "".join(o.get("text", "") for c in checked for o in c.outputs).strip()
            print(f"{step.notebook}: {text}")


if __name__ == "__main__":
    main()
