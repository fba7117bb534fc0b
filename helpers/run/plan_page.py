"""The plan as people read it: a table on the terminal, and one HTML page for one tenant or a fleet."""

from __future__ import annotations

from helpers.run.pages import esc, page, step_header
from helpers.steps import STEPS

WIDTH = 110  # the terminal's "what" column is cut here; plan.json and plan.html keep it whole
COLOURS = {"nothing": "#1a7f37", "runbook acts": "#0969da", "person acts": "#9a6700", "run fails": "#cf222e",
           "not reached": "#6e7781"}


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def table(plan: dict) -> str:
    """One line per tenant and step: tenant, step, what a run would do, and what exactly."""
    lines = []
    name_width = max([len(t["tenant"]) for t in plan["tenants"]] + [len("tenant")])
    lines.append(f"{'tenant'.ljust(name_width)}  {'step'.ljust(20)}  {'a run would'.ljust(12)}  what")
    for t in plan["tenants"]:
        if "error" in t:
            lines.append(f"{t['tenant'].ljust(name_width)}  {'-'.ljust(20)}  {'not start'.ljust(12)}  {_cut(t['error'])}")
            continue
        for s in t["steps"]:
            what = s["what"] + (f" ({s['reached']})" if s.get("reached") else "")
            lines.append(f"{t['tenant'].ljust(name_width)}  {s['step'].ljust(20)}  {s['would'].ljust(12)}  {_cut(what)}")
    counts = {}
    for t in plan["tenants"]:
        for s in t["steps"]:
            counts[s["would"]] = counts.get(s["would"], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    lines.append(f"{len(plan['tenants'])} tenant(s); {summary or 'no step planned'}. Nothing was changed, nothing sent.")
    return "\n".join(lines)


def _cell(step: dict | None) -> str:
    if step is None:
        return "<td></td>"
    colour = COLOURS.get(step["would"], "#000")
    return (f"<td class=\"status\" title=\"{esc(step['what'])}\" style=\"background:{colour}\">"
            f"{esc(step['would'])}</td>")


def _row(t: dict) -> str:
    if "error" in t:
        return f"<tr><td>{esc(t['tenant'])}</td><td colspan=\"{len(STEPS)}\">{esc(t['error'])}</td></tr>"
    by_step = {s["step"]: s for s in t["steps"]}
    return f"<tr><td>{esc(t['tenant'])}</td>{''.join(_cell(by_step.get(s)) for s in STEPS)}</tr>"


def html_page(plan: dict) -> str:
    """The plan's page, in the record pages' shell (helpers/run/pages.py): the grid, then who does what."""
    head = "<th>tenant</th>" + "".join(step_header(s) for s in STEPS)
    people, runbook = [], []
    for t in plan["tenants"]:
        for s in t.get("steps", []):
            where = f"<h3>{esc(t['tenant'])} · {esc(s['step'])}</h3>"
            reached = f"<p><i>{esc(s['reached'])}</i></p>" if s.get("reached") else ""
            if s["would"] == "person acts":
                items = "".join(f"<li>{esc(a)}</li>" for a in s["actions"]) or f"<li>{esc(s['what'])}</li>"
                people.append(f"{where}{reached}<ol>{items}</ol>")
            elif s["would"] in ("runbook acts", "run fails"):
                runbook.append(f"{where}{reached}<p>{esc(s['would'])}: {esc(s['what'])}</p>")
    legend = "".join(f"<li><span style=\"color:{COLOURS[k]};font-weight:bold\">{esc(k)}</span>: {esc(v)}</li>"
                     for k, v in plan["kinds"].items())
    body = f"""<h1>SMS/MMS API onboarding runbook: plan</h1>
<p><b>Plan:</b> {esc(plan['plan_id'])}, {len(plan['tenants'])} tenant(s). {esc(plan['how'])}.</p>
<ul>{legend}</ul>
<h2>Tenants by step</h2>
<table><tr>{head}</tr>{''.join(_row(t) for t in plan["tenants"])}</table>
<h2>What people must do</h2>{''.join(people) or '<p>Nothing.</p>'}
<h2>What a run would do itself, or where it would fail</h2>{''.join(runbook) or '<p>Nothing.</p>'}
<p class="muted">Hover a cell for what exactly. plan.json beside this page holds every step's dry-run result.</p>"""
    return page(f"SMS/MMS API runbook plan {plan['plan_id']}", body)


__all__ = ["html_page", "table"]
