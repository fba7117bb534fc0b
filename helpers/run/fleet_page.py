"""The fleet's page for people (fleet-summary.html), made from fleet-summary.json's data.

In the order a person reading about 20 tenants needs it: how many tenants ended how (counts per
outcome), the grid of tenants by step (each cell opens that step's page of the tenant's run), then what
people must do, ordered by what unblocks what: first the tenants refused before any step (their
parameter and its fix), then step by step in the runbook's order (a step's work unblocks the later
steps of the same tenant).
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.run.exit_codes import EXIT_MEANINGS
from helpers.run.pages import Column, esc, link, outcome_colour, page, status_cell, step_header, step_name, table
from helpers.steps import STEPS

# The order outcomes are counted in: the ones that need someone first.
OUTCOME_ORDER = (3, 1, 5, 4, 2, 0)


def relative(folder: Path, run_dir: str | None, name: str | None) -> str | None:
    """A file of a tenant's run, as a link from the fleet's folder (None when there is none)."""
    if not run_dir or not name:
        return None
    return os.path.relpath(Path(run_dir) / name, folder)


def refusal_text(refusal: dict | None) -> str:
    """What stopped a tenant before any step: the parameter, its problem and the fix, or the one line."""
    if not refusal:
        return ""
    if refusal.get("parameter"):
        return f"parameter '{refusal['parameter']}': {refusal.get('problem', '')}. Fix: {refusal.get('fix', '')}"
    return refusal.get("message", "")


def _counts(fleet: dict, folder: Path) -> str:
    by_code: dict[int, list[dict]] = {}
    for t in fleet["tenants"]:
        by_code.setdefault(t["exit_code"], []).append(t)
    present = [code for code in OUTCOME_ORDER if code in by_code] + sorted(set(by_code) - set(OUTCOME_ORDER))

    def names(code: int) -> str:
        if code == 0:
            return "<td class=\"muted\">nothing to do</td>"
        return "<td>" + ", ".join(_tenant(t, folder) for t in by_code[code]) + "</td>"

    columns = [
        Column("<th>outcome</th>", lambda code: f"<td data-exit=\"{code}\" style=\"color:{outcome_colour(code)};"
                                                f"font-weight:bold\">exit {code}: {esc(EXIT_MEANINGS.get(code, ''))}</td>"),
        Column("<th>tenants</th>", lambda code: f"<td data-count=\"{len(by_code[code])}\">{len(by_code[code])}</td>"),
        Column("<th>which</th>", names),
    ]
    return table(columns, present, id="outcomes")


def _tenant(t: dict, folder: Path) -> str:
    return link(relative(folder, t["run_dir"], "summary.html"), t["tenant"])


def _step_column(step_id: str, folder: Path) -> Column:
    def cell(t: dict) -> str:
        entry = t["steps"].get(step_id)
        if entry is None:
            return "<td></td>"
        target = relative(folder, t["run_dir"], entry.get("page"))
        return status_cell(entry["status"], link(target, entry["status"]) if target else None, title=entry["summary"])

    return Column(step_header(step_id), cell)


def _outcome_cell(t: dict) -> str:
    said = refusal_text(t.get("refusal"))
    more = f"<br><span data-refusal=\"1\">{esc(said)}</span>" if said else ""
    return f"<td>exit {t['exit_code']}: {esc(t['exit_meaning'])}{more}</td>"


def grid_columns(folder: Path) -> list[Column]:
    """The grid's columns: a new one (e.g. what changed since the last run) is one more item."""
    return [Column("<th>tenant</th>", lambda t: f"<td>{_tenant(t, folder)}</td>"),
            *[_step_column(step_id, folder) for step_id in STEPS],
            Column("<th>outcome</th>", _outcome_cell),
            Column("<th>changed since the last run</th>",
                   lambda t: f"<td>{esc(t.get('changed_since_last_run') or 'not run')}</td>")]


def _todo(fleet: dict, folder: Path) -> str:
    parts = []
    stopped = [t for t in fleet["tenants"] if t.get("refusal")]
    if stopped:
        items = "".join(f"<li>{_tenant(t, folder)} (exit {t['exit_code']}): {esc(refusal_text(t['refusal']))}</li>"
                        for t in stopped)
        parts.append(f"<h3 id=\"todo-before\">Before any step: runs refused</h3><ol>{items}</ol>")
    order = list(STEPS)
    for n, step_id in enumerate(order):
        items = []
        for t in fleet["tenants"]:
            entry = t["steps"].get(step_id) or {}
            work = [esc(a) for a in entry.get("actions") or []]
            if entry.get("failure"):
                work.append(f"failed: {esc(entry['failure'])}")
            if work:
                items.append(f"<li>{_tenant(t, folder)}<ol>{''.join(f'<li>{w}</li>' for w in work)}</ol></li>")
        if items:
            later = order[n + 1:]
            unblocks = f" (unblocks steps {later[0][:2]}–{later[-1][:2]})" if later else ""
            parts.append(f"<h3 id=\"todo-{esc(step_id)}\" title=\"{esc(STEPS[step_id].title)}\">Step {esc(step_id[:2])} "
                         f"{esc(step_name(step_id))}{unblocks}</h3><ul>{''.join(items)}</ul>")
    return "".join(parts) or "<p>Nothing.</p>"


def render(fleet: dict, folder: Path) -> str:
    colour = outcome_colour(fleet["exit_code"])
    body = f"""<h1>SMS/MMS API onboarding runbook: fleet</h1>
<p><b>Run:</b> {esc(fleet['fleet_id'])}, {len(fleet['tenants'])} tenants, {fleet['jobs']} at a time,
{fleet['duration_s']:.1f} s<br>
<b>Outcome:</b> <span style="color:{colour};font-weight:bold">exit {fleet['exit_code']}: {esc(fleet['exit_meaning'] or '')}</span></p>
<h2>Tenants by outcome</h2>
{_counts(fleet, folder)}
<h2>Tenants by step</h2>
{table(grid_columns(folder), fleet["tenants"], id="grid")}
<p class="muted">Each cell opens that step's page of the tenant's run; each tenant's name its own report. Every
tenant's record was scrubbed and scanned by its own run.</p>
<h2>What people must do, in the order that unblocks the most</h2>
{_todo(fleet, folder)}"""
    return page(f"SMS/MMS API runbook fleet {fleet['fleet_id']}", body)
