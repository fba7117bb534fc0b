"""The plan as people read it: a table on the terminal, and one HTML page for one tenant or a fleet."""

from __future__ import annotations

import html

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
    return (f"<td title='{html.escape(step['what'])}' style='background:{colour};color:white;white-space:nowrap'>"
            f"{html.escape(step['would'])}</td>")


def html_page(plan: dict) -> str:
    head = "".join(f"<th>{html.escape(s[:2])}</th>" for s in STEPS)
    rows, people, runbook = [], [], []
    for t in plan["tenants"]:
        name = html.escape(t["tenant"])
        if "error" in t:
            rows.append(f"<tr><td>{name}</td><td colspan='{len(STEPS)}'>{html.escape(t['error'])}</td></tr>")
            continue
        by_step = {s["step"]: s for s in t["steps"]}
        rows.append(f"<tr><td>{name}</td>{''.join(_cell(by_step.get(s)) for s in STEPS)}</tr>")
        for s in t["steps"]:
            where = f"<h3>{name} · {html.escape(s['step'])}</h3>"
            reached = f"<p><i>{html.escape(s['reached'])}</i></p>" if s.get("reached") else ""
            if s["would"] == "person acts":
                items = "".join(f"<li>{html.escape(a)}</li>" for a in s["actions"]) or f"<li>{html.escape(s['what'])}</li>"
                people.append(f"{where}{reached}<ol>{items}</ol>")
            elif s["would"] in ("runbook acts", "run fails"):
                runbook.append(f"{where}{reached}<p>{html.escape(s['would'])}: {html.escape(s['what'])}</p>")
    legend = "".join(f"<li><span style='color:{COLOURS[k]};font-weight:bold'>{html.escape(k)}</span>: "
                     f"{html.escape(v)}</li>" for k, v in plan["kinds"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SMS/MMS API runbook plan {html.escape(plan['plan_id'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}} th{{background:#f6f8fa}}</style></head>
<body>
<h1>SMS/MMS API onboarding runbook: plan</h1>
<p><b>Plan:</b> {html.escape(plan['plan_id'])}, {len(plan['tenants'])} tenant(s). {html.escape(plan['how'])}.</p>
<ul>{legend}</ul>
<h2>Tenants by step</h2>
<table><tr><th>tenant</th>{head}</tr>{''.join(rows)}</table>
<h2>What people must do</h2>{''.join(people) or '<p>Nothing.</p>'}
<h2>What a run would do itself, or where it would fail</h2>{''.join(runbook) or '<p>Nothing.</p>'}
<p style="color:#6e7781">Hover a cell for what exactly. plan.json beside this page holds every step's dry-run
result.</p>
</body></html>
"""


__all__ = ["html_page", "table"]
