"""The record of one run: summary.json (machines), summary.html (people), history.csv's row (trends;
read back by helpers.run.history)."""

from __future__ import annotations

import getpass
import html
import json
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path

from helpers import __version__
from helpers.notebook.report import format_value
from helpers.run import drift
from helpers.run.pages import Column, esc, link, outcome_colour, page, status_cell, table, text_column
from helpers.steps import STEPS

PACKAGES = ("papermill", "nbclient", "nbformat", "ipykernel", "ipywidgets", "requests", "pandas", "Flask", "phonenumbers")


def versions() -> dict:
    found = {"bp-sms-runbook": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def who() -> dict:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"host": socket.gethostname(), "user": user, "argv": sys.argv[1:]}


def write_json(path: Path, summary: dict) -> None:
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def _status(entry: dict) -> str:
    """The step's status, linking its rendered page (never the .ipynb a browser shows as JSON)."""
    r = entry["result"]
    return status_cell(r["status"], link(entry.get("page"), r["status"]) if entry.get("page") else None,
                       title=f"{r['step']}: {r['status']}")


def _said(entry: dict) -> str:
    r = entry["result"]
    text = r["summary"]
    later = entry.get("verified_later")
    if later:  # a later step proved what this one could not yet
        text = f"{text} [verified later by step {later['by'][:2]}: {later['evidence']}]"
    return f"<td>{esc(text)}</td>"


def _page_cell(entry: dict) -> str:
    if entry.get("page"):
        return f"<td>{link(entry['page'], 'page')}</td>"
    return f"<td class=\"muted\">{'(not run)' if not entry.get('notebook') else '(no page)'}</td>"


# The steps table, one Column each: a new column (e.g. what changed since the last run) is one more item.
STEP_COLUMNS = [
    text_column("step", lambda e: e["result"]["step"]),
    text_column("what", lambda e: e["result"]["title"]),
    Column("<th>status</th>", _status),
    Column("<th>summary</th>", _said),
    Column("<th>time</th>", lambda e: f"<td style='white-space:nowrap'>{e['seconds']:.1f} s</td>"),
    Column("<th>page</th>", _page_cell),
]


def write_html(path: Path, summary: dict) -> None:
    path.write_text(render_html(summary), encoding="utf-8")


def render_html(summary: dict) -> str:
    todo = []
    for entry in summary["steps"]:
        r = entry["result"]
        if r["actions"]:
            items = "".join(f"<li>{html.escape(a)}</li>" for a in r["actions"])
            todo.append(f"<h3>{html.escape(r['step'])}: {html.escape(r['title'])}</h3><ol>{items}</ol>")
        if entry.get("failure"):
            todo.append(f"<h3>{html.escape(r['step'])} failed</h3><p>{html.escape(entry['failure'])}</p>")
    evidence = []
    for entry in summary["steps"]:
        r = entry["result"]
        facts = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(format_value(v))}</li>" for k, v in r["evidence"].items())
        changes = "".join(f"<li>changed: {html.escape(c)}</li>" for c in r["changed"])
        inferred = "".join(f"<li>inferred: {html.escape(i)}</li>" for i in r.get("inferred", []))
        notes = "".join(f"<li><i>{html.escape(n)}</i></li>" for n in r["notes"])
        if facts or changes or inferred or notes:
            evidence.append(f"<h3>{html.escape(r['step'])}</h3><ul>{changes}{facts}{inferred}{notes}</ul>")
    colour = outcome_colour(summary["exit_code"])
    params = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in summary["parameters"].items())
    body = f"""<h1>SMS/MMS API onboarding runbook</h1>
<p><b>Tenant:</b> {html.escape(summary['tenant'])} at {html.escape(summary['target']['address'])}{' (the local emulator)' if summary['target']['emulator'] else ''}<br>
<b>Run:</b> {html.escape(summary['run_id'])}, {summary['duration_s']:.1f} s, by {html.escape(summary['run_by']['user'])} on {html.escape(summary['run_by']['host'])}<br>
<b>Outcome:</b> <span style="color:{colour};font-weight:bold">exit {summary['exit_code']}: {html.escape(summary['exit_meaning'])}</span></p>
<h2>Steps</h2>
{table(STEP_COLUMNS, summary["steps"], id="steps")}
<p class="muted">Each status opens the step's page: its notebook as the run left it.</p>
<h2>What a person must do</h2>{''.join(todo) or '<p>Nothing.</p>'}
{drift.html_section(summary.get('drift'))}
<h2>Evidence</h2>{''.join(evidence) or '<p>None recorded.</p>'}
<h2>Parameters</h2><table>{params}</table>
<p class="muted">Secrets are never parameters; every artifact of this run was scrubbed and scanned.
Versions: {html.escape(', '.join(f'{k} {v}' for k, v in summary['versions'].items()))}</p>"""
    return page(f"SMS/MMS API runbook: {summary['tenant']}", body)


HISTORY_FIELDS = ["run_id", "started_at", "exit_code", "outcome", "duration_s", "dry_run", "practice_mode",
                  *STEPS.keys(), "pending_send", "report", "changed_since_last_run"]


def history_row(summary: dict) -> dict:
    """One run as a row of the tenant's history.csv (record.append_history chains it)."""
    statuses = {entry["result"]["step"]: entry["result"]["status"] for entry in summary["steps"]}
    return {"run_id": summary["run_id"], "started_at": summary["started_at"], "exit_code": summary["exit_code"],
            "outcome": summary["exit_meaning"], "duration_s": f"{summary['duration_s']:.1f}",
            "dry_run": summary["parameters"].get("dry_run"), "practice_mode": summary["parameters"].get("practice_mode"),
            "pending_send": summary.get("pending_send") or "", "report": summary["report"],
            "changed_since_last_run": (summary.get("drift") or {}).get("headline", ""),
            **{step: statuses.get(step, "") for step in STEPS}}
