"""What changed on the tenant since its previous run: each run compares its observations with the
last one's and records the differences in summary.json ("drift"), summary.html, the fleet page and
its history row.

An observation is a small, named, typed value a step saw of the tenant (helpers.steps.findings.observe:
the user's roles, the number's text-out services, the token's lifetime, the probe's answer), never a
secret or a token; a value the scrub would redact is kept as a digest, so that it can be said to have
changed, never what it was. The previous run is the tenant's newest run in history.csv (the same --out)
that ran at least one step, interrupted or not; it is read only when history.csv's hash chain holds
and its own files match its manifest (helpers.run.record.verify), never otherwise.

What is compared: what the previous run LEFT (its last observation, after its own changes) with what
this run FOUND (before it changed anything); a value this run saw only after its own change (a user it
created, the text it sent) is compared as it left it, and says so. "changed" means both runs observed
the value; when one did not (its step was skipped, failed before it looked, or did not run), the value
is "not compared", with the reason.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from helpers.run.record import HISTORY, verify
from helpers.steps.findings import DIGEST, OBSERVATIONS

SUMMARY = "summary.json"
FOUND, LEFT = "found", "left"


# ------------------------------------------------------------------------------ pure comparison
def observed(entries: list[dict]) -> dict[str, dict]:
    """{step id: {"status", "summary", "observations": {name: {"found"?, "left"}}}} of a run's step entries."""
    steps = {}
    for entry in entries:
        result = entry.get("result") or {}
        found = (result.get("observed") or {}).get(OBSERVATIONS) or {}
        steps[str(result.get("step"))] = {"status": str(result.get("status")), "summary": str(result.get("summary", "")),
                                          "observations": {k: v for k, v in found.items() if isinstance(v, dict)}}
    return steps


def _missing(steps: dict, step: str, who: str) -> str:
    """Why `who` (this run / the previous run) has no value of an observation of `step`."""
    if step not in steps:
        return f"{who} did not run step {step[:2]}"
    status, summary = steps[step]["status"], steps[step]["summary"]
    if status in ("skipped", "failed", "interrupted"):
        return f"{who}'s step {step[:2]} was {status}: {summary[:160]}"
    return f"{who}'s step {step[:2]} ended {status} without observing it: {summary[:160]}"


def _shown(value):
    return None if isinstance(value, str) and value.startswith(DIGEST) else value


def compare(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """The differences between two runs' observations (each from `observed`): {"changes", "not_compared",
    "unchanged"}. Before: what the previous run left. After: what this run found, else what it left."""
    changes, not_compared, unchanged = [], [], []
    for step in sorted(set(before) | set(after)):
        old = before.get(step, {}).get("observations", {})
        new = after.get(step, {}).get("observations", {})
        for name in sorted(set(old) | set(new)):
            was = old.get(name, {}).get(LEFT, old.get(name, {}).get(FOUND))
            seen = FOUND if FOUND in new.get(name, {}) else LEFT
            now = new.get(name, {}).get(seen)
            where = {"step": step, "name": name}
            if name not in old or was is None:
                not_compared.append(where | {"reason": _missing(before, step, "the previous run")})
            elif name not in new or now is None:
                not_compared.append(where | {"reason": _missing(after, step, "this run")})
            elif was == now:
                unchanged.append(where)
            else:
                digested = _shown(was) is None or _shown(now) is None
                changes.append(where | {"before": None if digested else was, "after": None if digested else now,
                                        "digest": digested,
                                        "seen": "before this run acted" if seen == FOUND
                                        else "after this run's own change (it did not look before)"})
    return {"changes": changes, "not_compared": not_compared, "unchanged": unchanged}


def not_compared(why: str, previous: dict | None = None) -> dict:
    return {"compared": False, "why_not": why, "previous_run": previous, "changes": [], "not_compared": [],
            "unchanged": []}


# ------------------------------------------------------------------------------ the previous run
def runs_newest_first(tenant_dir: Path) -> list[str]:
    path = tenant_dir / HISTORY
    if not path.is_file():
        return []
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return [row["run_id"] for row in reversed(rows) if row.get("run_id")]


def reached_steps(summary: dict) -> bool:
    return any(isinstance(e, dict) and e.get("notebook") for e in summary.get("steps") or [])


def since_last_run(tenant_dir: Path, run_dir: Path, entries: list[dict]) -> dict:
    """summary.json's "drift": this run's observations compared with the tenant's previous run in
    the same --out. Never raises: what could not be compared says why."""
    try:
        found = _since_last_run(tenant_dir, run_dir, entries)
    except (OSError, ValueError, KeyError, TypeError, csv.Error) as exc:
        found = not_compared(f"the tenant's earlier runs could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    return found | {"headline": headline(found)}


def _since_last_run(tenant_dir: Path, run_dir: Path, entries: list[dict]) -> dict:
    current = observed(entries)
    for run_id in runs_newest_first(tenant_dir):
        if run_id == run_dir.name:
            continue
        # Read only once verified: the whole hash chain of history.csv, and this run's files against its
        # manifest (other runs' folders are not read, so they are not checked here: `verify` does that).
        problems = verify(tenant_dir, only={run_id})
        if problems:
            return not_compared(f"the tenant's record fails verification ({problems[0]}; python -m helpers verify "
                                f"{tenant_dir}), so its earlier runs are not trusted", {"run_id": run_id})
        path = tenant_dir / run_id / SUMMARY
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return not_compared(f"the previous run's {SUMMARY} ({run_id}) is not readable (withheld by the secret "
                                "scan, or cut short)", {"run_id": run_id})
        if not isinstance(summary, dict) or not reached_steps(summary):
            continue  # refused before its first step, or no kernel could start: it observed nothing
        previous = {"run_id": run_id, "started_at": summary.get("started_at"),
                    "interrupted": summary.get("interrupted"), "report": f"../{run_id}/summary.html"}
        before = observed(summary.get("steps") or [])
        if not any(step["observations"] for step in before.values()):
            return not_compared(f"the previous run ({run_id}) recorded no observations (a version before this "
                                "comparison, or no step that observes the tenant ran)", previous)
        if not any(step["observations"] for step in current.values()):
            return not_compared("this run observed nothing of the tenant (no step that observes it ran to that "
                                "point)", previous)
        return {"compared": True, "why_not": None, "previous_run": previous, **compare(before, current)}
    return not_compared(f"no earlier run of this tenant in this --out ({HISTORY}) reached the steps")


# ------------------------------------------------------------------------------ how it reads
def _value(value, limit: int | None = None) -> str:
    if isinstance(value, list):
        text = ", ".join(value) if value else "(none)"
    else:
        text = json.dumps(value) if isinstance(value, bool) else str(value)
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def change_words(change: dict) -> str:
    """'05 text-out services: SMS Chat -> (none)'."""
    head = f"{change['step'][:2]} {change['name']}"
    if change.get("digest"):
        return f"{head}: changed (a value the record never shows)"
    return f"{head}: {_value(change['before'], 40)} -> {_value(change['after'], 40)}"


def headline(drift: dict | None) -> str:
    """One line, for the history row and the fleet page."""
    if not drift:
        return "not compared: no comparison was recorded"
    if not drift.get("compared"):
        return f"not compared: {drift.get('why_not')}"
    changes = drift.get("changes") or []
    skipped = len(drift.get("not_compared") or [])
    tail = f" ({skipped} not compared)" if skipped else ""
    if not changes:
        return f"nothing changed{tail}"
    return "; ".join(change_words(c) for c in changes) + tail


def html_section(drift: dict | None) -> str:
    """summary.html's section "Changed since the last run"."""
    title = "<h2>Changed since the last run</h2>"
    if not drift or not drift.get("compared"):
        return f"{title}<p>Not compared: {html.escape((drift or {}).get('why_not') or 'no comparison was recorded')}.</p>"
    prev = drift["previous_run"]
    where = (f"<p>Compared with run <a href='{html.escape(prev['report'])}'>{html.escape(prev['run_id'])}</a> "
             f"({html.escape(str(prev.get('started_at')))}"
             f"{', interrupted by ' + html.escape(prev['interrupted']) if prev.get('interrupted') else ''}): what it "
             "left, against what this run found before it acted.</p>")
    rows = "".join(f"<tr><td>{html.escape(c['step'])}</td><td>{html.escape(c['name'])}</td>"
                   f"<td>{'(not shown)' if c['digest'] else html.escape(_value(c['before']))}</td>"
                   f"<td>{'changed (not shown)' if c['digest'] else html.escape(_value(c['after']))}</td>"
                   f"<td>{html.escape(c['seen'])}</td></tr>" for c in drift["changes"])
    table = (f"<table><tr><th>step</th><th>observation</th><th>the last run left</th><th>this run</th><th>seen</th>"
             f"</tr>{rows}</table>" if rows else "<p>Nothing changed.</p>")
    skipped = "".join(f"<li>{html.escape(n['step'][:2])} {html.escape(n['name'])}: {html.escape(n['reason'])}</li>"
                      for n in drift["not_compared"])
    same = ", ".join(f"{u['step'][:2]} {u['name']}" for u in drift["unchanged"])
    return (f"{title}{where}{table}" + (f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else "")
            + (f"<p style='color:#6e7781'>Unchanged: {html.escape(same)}.</p>" if same else ""))
