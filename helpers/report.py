"""Show a StepResult as a readable table, record it as a machine-readable output, and read the
recorded results back from executed notebooks (instead of the unmaintained scrapbook)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from .results import MIME_TYPE, StepResult

COLOURS = {"ok": "#1a7f37", "changed": "#0969da", "action-required": "#9a6700", "failed": "#cf222e",
           "skipped": "#6e7781", "interrupted": "#8250df"}


def format_value(value) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for row in value for k in row))
        return "; ".join(", ".join(f"{k}={row.get(k)}" for k in keys) for row in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def rows(result: StepResult) -> list[tuple[str, str]]:
    out = [("step", f"{result.step}: {result.title}"), ("status", result.status), ("summary", result.summary)]
    out += [(f"observed: {k}", format_value(v)) for k, v in result.observed.items() if k != "parameters"]
    out += [("changed", c) for c in result.changed]
    out += [(f"to do ({i})", a) for i, a in enumerate(result.actions, 1)]
    out += [(f"evidence: {k}", format_value(v)) for k, v in result.evidence.items()]
    out += [("inferred", i) for i in result.inferred]
    out += [("note", n) for n in result.notes]
    out.append(("duration", f"{result.duration_s:.2f} s"))
    return out


def as_text(result: StepResult) -> str:
    table = rows(result)
    width = max(len(k) for k, _ in table)
    return "\n".join(f"{k.ljust(width)} | {v}" for k, v in table)


def as_html(result: StepResult) -> str:
    colour = COLOURS.get(result.status, "#000")
    body = "".join(
        f"<tr><th style='text-align:left;padding:2px 8px;vertical-align:top'>{html.escape(k)}</th>"
        f"<td style='text-align:left;padding:2px 8px'>"
        + (f"<b style='color:{colour}'>{html.escape(v)}</b>" if k == "status" else html.escape(v))
        + "</td></tr>" for k, v in rows(result))
    return f"<table style='border-left:4px solid {colour}'>{body}</table>"


def show(result: StepResult) -> None:
    """Display the result readably and record it as a custom MIME output for the runner."""
    from IPython.display import display

    display({"text/plain": as_text(result), "text/html": as_html(result), MIME_TYPE: result.to_dict()}, raw=True)


def read_results(notebook_path: str | Path) -> list[StepResult]:
    """The StepResults recorded in an executed notebook, in order."""
    try:
        nb = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a notebook cut short (a full disk, a killed process) records nothing
        return []
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if MIME_TYPE in data:
                payload = data[MIME_TYPE]
                found.append(StepResult.from_dict(json.loads(payload) if isinstance(payload, str) else payload))
    return found
