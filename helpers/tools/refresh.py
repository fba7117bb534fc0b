"""Re-record the verdict lines nbval checks (tests/notebook_references.json).

Runs every committed notebook in order against a fresh emulator in the nbval scenario
(helpers/tools/nbval.py) and keeps the output of each notebook's checked cell (tag
`nbval-check-output`: the verdict line). The committed notebooks keep no output at all, so a freshly
opened page shows nothing stale; nbval runs over copies carrying these references
(helpers/tools/nbval.py). Review the diff: a changed verdict is a changed step outcome.

    .venv/bin/python -m helpers.tools.refresh
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from emulator import EmulatorServer
from helpers.steps import STEPS
from helpers.tools.nbval import CHECKED, REFERENCES, scenario_environment

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    references = {}
    with EmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(scenario_environment(server.url, str(Path(tmp) / "handoff.json")))
        for step in STEPS.values():
            path = ROOT / "notebooks" / step.notebook
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                           timeout=120).execute()
            checked = next(c for c in nb.cells if CHECKED in c.metadata.get("tags", []))
            text = "".join(o.get("data", {}).get("text/plain", o.get("text", "")) for o in checked.outputs).strip()
            references[step.notebook] = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)  # nbval sanitizes it too
            print(f"{step.notebook}: {text}")
    REFERENCES.write_text(json.dumps(references, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
