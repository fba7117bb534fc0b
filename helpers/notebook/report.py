"""Show a StepResult as a readable table, record it as a machine-readable output, and read the
recorded results back from executed notebooks (instead of the unmaintained scrapbook)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from helpers.steps.results import MIME_TYPE, StepResult

COLOURS = {"ok": "#1a7f37", "changed": "#0969da", "action-required": "#9a6700", "failed": "#cf222e",
           "skipped": "#6e7781", "interrupted": "#8250df"}


def format_value(value) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(_pairs(row) for row in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return _pairs(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _pairs(row: dict) -> str:
    return ", ".join(f"{k} {format_value(v)}" for k, v in row.items())


def _labelled(prefix: str, key: str, value) -> list[tuple[str, str]]:
    """Short labelled rows: a mapping or a list of records becomes one row per entry, not a run-on string."""
    if isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values()):
        return [(f"{prefix}{key}: {k}", format_value(v)) for k, v in value.items()]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [(f"{prefix}{key} ({i})", _pairs(v)) for i, v in enumerate(value, 1)]
    return [(f"{prefix}{key}", format_value(value))]


def rows(result: StepResult) -> list[tuple[str, str]]:
    out = [("step", f"{result.step[:2]} · {result.title}"), ("status", result.status), ("summary", result.summary)]
    for k, v in result.observed.items():
        if k != "parameters":
            out += _labelled("observed: ", k, v)
    out += [("changed", c) for c in result.changed]
    out += [(f"to do ({i})", a) for i, a in enumerate(result.actions, 1)]
    for k, v in result.evidence.items():
        out += _labelled("evidence: ", k, v)
    out += [("inferred", i) for i in result.inferred]
    out += [("note", n) for n in result.notes]
    out.append(("duration", f"{result.duration_s:.2f} s"))
    return out


def as_text(result: StepResult) -> str:
    table = rows(result)
    width = max(len(k) for k, _ in table)
    return "\n".join(f"{k.ljust(width)} | {v}" for k, v in table)


# What each status means to a person, in plain words: the first thing a page's result says.
PLAIN = {"ok": "Done: checked, and as it should be", "changed": "Done: the runbook made a change and verified it",
         "action-required": "Your turn: do what is listed below, then run this page again", "failed": "Failed",
         "skipped": "Skipped", "interrupted": "Interrupted"}


def as_html(result: StepResult) -> str:
    """The verdict first, in plain words, and what a person must do; everything observed folded below it
    (an HTML <details>): the evidence keeps its exact words and labels there."""
    colour = COLOURS.get(result.status, "#000")
    body = "".join(
        f"<tr><th style='text-align:left;padding:2px 8px;vertical-align:top;white-space:nowrap'>{html.escape(k)}</th>"
        f"<td style='text-align:left;padding:2px 8px'>"
        + (f"<b style='color:{colour}'>{html.escape(v)}</b>" if k == "status" else html.escape(v))
        + "</td></tr>" for k, v in rows(result))
    todo = "".join(f"<li>{html.escape(a)}</li>" for a in result.actions)
    todo = f"<p style='margin:6px 0 2px'><b>What to do</b></p><ol class='bp-todo'>{todo}</ol>" if todo else ""
    return (f"<div class='bp-result' style='border-left:4px solid {colour};padding:2px 10px'>"
            f"<p class='bp-verdict' style='font-size:1.1em;margin:4px 0'><b style='color:{colour}'>"
            f"{html.escape(PLAIN.get(result.status, result.status))}.</b> {html.escape(result.summary[:1].upper() + result.summary[1:])}."
            f"</p>{todo}"
            f"<details class='bp-details'><summary>Details: what the runbook observed, changed and concluded "
            f"({result.status})</summary><table>{body}</table></details></div>")


def verdict_line(result: StepResult) -> str:
    """The page's one-line verdict: deterministic (no times, ids or tokens), what nbval compares."""
    return f"Result of step {result.step[:2]}: {result.status} - {result.summary}"


def show(result: StepResult, *, display_id: str | None = None, update: bool = False) -> None:
    """Display the result readably and record it as a custom MIME output for the runner."""
    from IPython.display import display, update_display

    data = {"text/plain": as_text(result), "text/html": as_html(result), MIME_TYPE: result.to_dict()}
    if update:
        update_display(data, raw=True, display_id=display_id)
    else:
        display(data, raw=True, display_id=display_id)


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
