"""What the record's HTML pages share: the page's shell, a status cell, a table whose columns are a
list, and the steps' short names. Every page reads offline: no script, nothing fetched (the
Content-Security-Policy says so to the browser), one small stylesheet inline.

    page("Fleet", body)                               -> a whole document
    table([Column("tenant", ...), ...], rows)         -> <table> (a new column is one more list item)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from helpers.notebook.report import COLOURS
from helpers.steps import STEPS

# Nothing runs and nothing is fetched: inline styles and images embedded as data: URLs only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """body{font-family:sans-serif;margin:2em;max-width:80em;color:#1f2328}
table{border-collapse:collapse;margin:0.5em 0}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} .status{color:white;font-weight:bold;white-space:nowrap}
.status a{color:white} .muted{color:#6e7781} nav a{margin-right:1.5em}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}"""
OUTCOME_COLOURS = {0: COLOURS["ok"], 2: COLOURS["action-required"], 5: COLOURS["interrupted"]}  # others: failed


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, style: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}{style}</style></head>
<body>
{body}
</body></html>
"""


def link(href: str | None, text: str, **attributes: str) -> str:
    """An <a> when there is somewhere to go, the text alone otherwise (never a dangling link)."""
    extra = "".join(f" {name}=\"{esc(value)}\"" for name, value in attributes.items())
    return f"<a href=\"{esc(href)}\"{extra}>{esc(text)}</a>" if href else esc(text)


def status_cell(status: str, inner: str | None = None, title: str = "") -> str:
    """A cell coloured by a step's status; `inner` is HTML (a link), the status itself by default."""
    hint = f" title=\"{esc(title)}\"" if title else ""
    return (f"<td class=\"status\" data-status=\"{esc(status)}\"{hint} style=\"background:"
            f"{COLOURS.get(status, '#000')}\">{inner if inner is not None else esc(status)}</td>")


def outcome_colour(exit_code: int) -> str:
    return OUTCOME_COLOURS.get(exit_code, COLOURS["failed"])


def step_name(step_id: str) -> str:
    """'04_access_token' -> 'access token': the header of a step's column."""
    return step_id[3:].replace("_", " ")


def step_header(step_id: str) -> str:
    """A step's column header: its number and name, its full title on hover."""
    title = STEPS[step_id].title if step_id in STEPS else step_id
    return f"<th title=\"{esc(title)}\">{esc(step_id[:2])} {esc(step_name(step_id))}</th>"


@dataclass(frozen=True)
class Column:
    """One column of a table: its header (HTML) and the cell (HTML, with its <td>) for a row."""

    header: str
    cell: Callable[[object], str]


def text_column(name: str, value: Callable[[object], object]) -> Column:
    return Column(f"<th>{esc(name)}</th>", lambda row: f"<td>{esc(value(row))}</td>")


def table(columns: list[Column], rows: Iterable[object], **attributes: str) -> str:
    extra = "".join(f" {name}=\"{esc(value)}\"" for name, value in attributes.items())
    head = "".join(c.header for c in columns)
    body = "".join("<tr>" + "".join(c.cell(row) for c in columns) + "</tr>" for row in rows)
    return f"<table{extra}><tr>{head}</tr>{body}</table>"
