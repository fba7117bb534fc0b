"""The closing page (notebooks/done.ipynb, after the last step): what this lab session's pages found,
what is left, and where the record is. It reads the lab's record of the pages run by hand
(helpers.steps.findings, per tenant, kept 12 hours) and changes nothing on the tenant.

    session_summary(globals())   # the page's one code cell; its parameters cell gives tenant_url and scope
"""

from __future__ import annotations

import html
from pathlib import Path

from helpers.errors import ParameterError
from helpers.notebook.report import COLOURS, PLAIN
from helpers.steps import STEPS, findings
from helpers.steps.params import from_namespace

DONE = ("ok", "changed")
LEFT = "style='text-align:left;vertical-align:top'"  # JupyterLab right-aligns table cells by default


def session(params, environ=None, now=None) -> list[dict]:
    """One row per step, in order: its latest result in this lab session, or none."""
    lab = findings.read_lab(params, environ, now=now)
    verified_by = {step: by for by, entry in lab.items() if entry.get("status") in DONE
                   for step in entry.get("verifies") or ()}
    rows = []
    for step_id, step in STEPS.items():
        entry = lab.get(step_id)
        status = entry.get("status") if entry else None
        later = verified_by.get(step_id) if status not in DONE else None
        rows.append({"step": step_id, "title": step.title, "notebook": step.notebook, "status": status,
                     "summary": (entry or {}).get("summary", ""), "verified by": later,
                     "done": status in DONE or later is not None})
    return rows


def _row(row: dict) -> str:
    status = row["status"] or "not run"
    colour = COLOURS.get(status, "#6e7781")
    said = html.escape(row["summary"]) if row["status"] else "not run in this session (or more than 12 hours ago)"
    if row["verified by"]:
        said += f". <b>Verified later by step {row['verified by'][:2]}</b> (its token carries the privilege)."
    return (f"<tr><td {LEFT}><a href='{row['notebook']}'>{row['step'][:2]} {html.escape(row['title'])}</a></td>"
            f"<td style='text-align:left;color:{colour};font-weight:bold;white-space:nowrap'>{html.escape(status)}</td>"
            f"<td {LEFT}>{said}</td></tr>")


def as_html(rows: list[dict], scope: str, folder: Path) -> str:
    left = [r for r in rows if not r["done"]]
    if left:
        verdict = (f"<b style='color:{COLOURS['action-required']}'>Not finished.</b> {len(rows) - len(left)} of "
                   f"{len(rows)} steps are done for {html.escape(scope)}; what is left:")
        todo = "".join(f"<li><a href='{r['notebook']}'>{r['step'][:2]} {html.escape(r['title'])}</a>: "
                       + (html.escape(PLAIN.get(r["status"], r["status"])) if r["status"] else "not run yet")
                       + "</li>" for r in left)
        todo = f"<ol class='bp-left'>{todo}</ol>"
    else:
        verdict = (f"<b style='color:{COLOURS['ok']}'>Done.</b> Every step of the runbook is done for "
                   f"{html.escape(scope)}: an application can now send texts through the SMS/MMS API with the "
                   "API user's secret.")
        todo = ""
    record = (f"<p><b>Where the record is.</b> These pages, with their results, are saved in {html.escape(str(folder))} "
              "(JupyterLab saves them; in practice that is the practice workspace, never the committed pages). What "
              "they found is kept for 12 hours beside the secrets you handed over; <code>python -m helpers forget</code> "
              "deletes both. For a record to keep and share (summary.html, a manifest whose hashes prove it unchanged, "
              "a line in the history), run the runbook headless: <code>python -m helpers run --params "
              "params/&lt;tenant&gt;.yaml</code> writes it under <code>outputs/&lt;tenant&gt;/&lt;UTC time&gt;/</code>, "
              "and <code>python -m helpers history</code> lists the runs.</p>")
    table = "".join(_row(r) for r in rows)
    return (f"<div class='bp-closing'><p class='bp-verdict' style='font-size:1.1em'>{verdict}</p>{todo}"
            f"<p><b>What was done</b> (each step's latest result in this lab session):</p>"
            f"<table class='bp-session'><tr><th {LEFT}>Step</th><th {LEFT}>Status</th><th {LEFT}>What it said</th></tr>{table}</table>"
            f"{record}</div>")


def as_text(rows: list[dict], scope: str) -> str:
    left = [r["step"][:2] for r in rows if not r["done"]]
    head = f"Not finished for {scope}: left {', '.join(left)}" if left else f"Done: every step is done for {scope}"
    lines = [f"{r['step'][:2]} {r['status'] or 'not run'}" + (f" (verified by {r['verified by'][:2]})"
                                                              if r["verified by"] else "") for r in rows]
    return "\n".join([head, *lines])


def session_summary(namespace: dict, environ=None) -> None:
    from IPython.display import display

    try:
        params = from_namespace(namespace, ("tenant_url", "scope"))
    except ParameterError as exc:
        print(f"The parameters are not valid: {exc}")
        return
    rows = session(params, environ)
    display({"text/plain": as_text(rows, params.effective_scope),
             "text/html": as_html(rows, params.effective_scope, Path.cwd())}, raw=True)
