"""`python -m helpers history`: the latest runs per tenant, as a text table and as a page per tenant
(history.html beside the tenant's history.csv) whose strip shows each step's status run after run.

A tenant or folder that is not there is a mistake with a likely fix: the nearest name that is there
(difflib), e.g. `example.brightpattern.com` when the demo's folder is `emulator_example.brightpattern.com`.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path

from helpers.errors import ParameterError
from helpers.notebook.report import COLOURS
from helpers.run.pages import Column, esc, link, outcome_colour, page, status_cell, step_header, table, text_column
from helpers.run.record import HISTORY
from helpers.steps import STEPS

PAGE = "history.html"
SHORT = {"ok": "ok", "changed": "chg", "action-required": "act", "failed": "FAIL", "skipped": "skip",
         "interrupted": "int"}


def nearest(name: str, choices: list[str]) -> str | None:
    """The choice closest to `name` (difflib), or None when none is close."""
    # A folder is the tenant's scope, prefixed emulator_ for the emulator's (prepare.tenant_folder): the same
    # scope is the nearest whatever difflib says of a similar-looking other tenant.
    same = [c for c in choices if name and (c.endswith("_" + name) or name.endswith("_" + c))]
    found = same or difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def tenant_folders(out_dir: Path) -> list[Path]:
    """Every tenant folder under the records folder: those holding a history.csv."""
    return sorted(p.parent for p in out_dir.glob(f"*/{HISTORY}"))


def find_tenants(out_dir: Path, tenant: str | None) -> list[Path]:
    """The tenant folders to show; ParameterError (exit 3) naming the nearest match when there is none."""
    if not out_dir.is_dir():
        raise ParameterError("--out", f"{str(out_dir)!r} is not a folder", "give the records folder runs wrote to, "
                             "e.g. --out outputs (the default)")
    folders = tenant_folders(out_dir)
    if not tenant:
        return folders
    chosen = [f for f in folders if f.name == tenant]
    if chosen:
        return chosen
    names = [f.name for f in folders]
    best = nearest(tenant, names)
    if best:
        raise ParameterError("--tenant", f"no records for {tenant!r} under {out_dir}",
                             f"did you mean --tenant {best}?")
    raise ParameterError("--tenant", f"no records for {tenant!r} under {out_dir}",
                         f"give one of: {', '.join(names)}" if names else "run the runbook first: no tenant has records here")


def folder_not_found(given: str) -> str:
    """The fix for a tenant's records folder that is not there: the nearest sibling that is one."""
    path = Path(given)
    parent = path.parent if str(path.parent) else Path(".")
    siblings = [p.name for p in tenant_folders(parent)] if parent.is_dir() else []
    best = nearest(path.name, siblings)
    if best:
        return f"did you mean {parent / best}?"
    if siblings:
        return f"give one of: {', '.join(str(parent / s) for s in siblings)}"
    return "give a tenant's records folder, e.g. outputs/<tenant> (python -m helpers history lists them)"


def read_rows(tenant_dir: Path, limit: int) -> list[dict]:
    """The tenant's latest `limit` runs from history.csv, oldest first."""
    text = (tenant_dir / HISTORY).read_text(encoding="utf-8")
    rows = [row for row in csv.DictReader(io.StringIO(text)) if row.get("run_id")]
    return rows[-limit:] if limit > 0 else rows


def history_table(runs: dict[Path, list[dict]]) -> str:
    """The latest runs per tenant ({tenant folder: its rows, from read_rows}), as a text table."""
    import pandas as pd  # only the text view needs pandas

    frames = []
    for folder, rows in runs.items():
        frame = pd.DataFrame(rows, dtype=str).fillna("")
        frame.insert(0, "tenant", folder.name)
        frames.append(frame)
    frames = [f for f in frames if len(f)]
    if not frames:
        return "No runs recorded."
    table_ = pd.concat(frames, ignore_index=True)
    columns = ["tenant", "run_id", "exit_code", *STEPS, "duration_s", "changed_since_last_run"]
    for column in columns:  # a history of an older version, or a step added since, has no such column
        if column not in table_.columns:
            table_[column] = ""
    names = {s: s[:2] for s in STEPS} | {"changed_since_last_run": "changed since last run"}
    return table_[columns].rename(columns=names).to_string(index=False)


def _report(tenant_dir: Path, row: dict) -> str | None:
    """The run's summary.html, relative to the history page, when the run's folder still has it."""
    return f"{row['run_id']}/summary.html" if (tenant_dir / row["run_id"] / "summary.html").is_file() else None


def strip_rows(tenant_dir: Path) -> list[Column]:
    """The strip's rows (a header, then one per step, then the run's outcome), each a Column over the runs:
    a new row (e.g. what changed since the last run) is one more item."""

    def step_row(step_id: str) -> Column:
        def cell(row: dict) -> str:
            status = row.get(step_id, "")
            if not status:
                return "<td class=\"muted\" data-status=\"\" title=\"not run in this run\">·</td>"
            return status_cell(status, esc(SHORT.get(status, status)), title=f"{row['run_id']}: {status}")

        return Column(step_header(step_id), cell)

    def outcome(row: dict) -> str:
        code = int(row["exit_code"]) if row.get("exit_code", "").isdigit() else 1
        return (f"<td data-exit=\"{esc(row.get('exit_code', ''))}\" title=\"{esc(row.get('outcome', ''))}\" "
                f"style=\"color:{outcome_colour(code)};font-weight:bold\">{esc(row.get('exit_code', ''))}</td>")

    run = Column("<th>run</th>", lambda row: f"<th>{link(_report(tenant_dir, row), row['run_id'][4:13])}</th>")
    return [run, *[step_row(s) for s in STEPS], Column("<th>exit</th>", outcome)]


def render(tenant_dir: Path, rows: list[dict]) -> str:
    """The tenant's history page: the strip (steps down, runs across, oldest left), then the runs."""
    strip = "".join(f"<tr>{r.header}{''.join(r.cell(row) for row in rows)}</tr>" for r in strip_rows(tenant_dir))
    runs = [Column("<th>run</th>", lambda row: f"<td>{link(_report(tenant_dir, row), row['run_id'])}</td>"),
            text_column("started", lambda row: row.get("started_at", "")),
            text_column("exit", lambda row: row.get("exit_code", "")),
            text_column("outcome", lambda row: row.get("outcome", "")),
            text_column("seconds", lambda row: row.get("duration_s", "")),
            text_column("dry run", lambda row: row.get("dry_run", "")),
            text_column("practice", lambda row: row.get("practice_mode", "")),
            text_column("changed since the last run", lambda row: row.get("changed_since_last_run", ""))]
    legend = " ".join(f"<span class=\"status\" style=\"background:{COLOURS[s]};padding:2px 6px\">{esc(short)}</span> "
                      f"{esc(s)}" for s, short in SHORT.items())
    body = f"""<h1>SMS/MMS API runbook: history of {esc(tenant_dir.name)}</h1>
<p>The last {len(rows)} runs recorded in {esc(HISTORY)}, oldest on the left. Each column is a run (its report
behind the run's date), each row a step: its status in that run; · means the step did not run.</p>
<table id="strip" style="text-align:center">{strip}</table>
<p class="muted">{legend}</p>
<h2>Runs</h2>
{table(runs, list(reversed(rows)), id="runs")}
<p class="muted">Made from history.csv by <code>python -m helpers history</code>; whether the record is intact is
what <code>python -m helpers verify {esc(tenant_dir)}</code> says.</p>"""
    return page(f"SMS/MMS API runbook history: {tenant_dir.name}", body, style=" #strip td{min-width:2.5em}")
