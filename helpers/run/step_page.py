"""Each step's output notebook as an HTML page beside it, for people: a browser shows a .ipynb as raw
JSON. nbconvert's HTMLExporter with the `basic` template (the notebook's body only: no MathJax, no
require.js, no 280 kB of JupyterLab stylesheet) inside the record's own page shell (helpers.run.pages):
readable offline, nothing runs.

What the page shows: where it sits (step N of 7, the previous and next pages, the run's summary), the
step's status and summary, then the notebook: its text, the parameters the run gave it (papermill's
injected cell) and every output. The other code cells are the page's plumbing (they are in the
notebook): left out, which also makes the page about three times cheaper to render.

Cost (CPU, measured on a 2-core machine under load): importing nbconvert after papermill about 0.4 s
and the first page of a process about 0.6 s more (templates and parsers compiled), once per run or per
fleet worker; then about 26 ms a page, so about 0.2 s a tenant for its seven pages.

The page is made from the notebook after the record stage sealed it (scrubbed and scanned), and is
itself written through the gate like every file of the record.
"""

from __future__ import annotations

import functools
import html
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from helpers.run.pages import esc, link, page, status_cell
from helpers.steps import STEPS

SHOWN_CODE = "injected-parameters"  # the one code cell whose code a reader needs: what the run gave the step
STEP_LINK = re.compile(r"""href=(["'])(\d\d_[a-z][a-z0-9_]*)\.ipynb(#[^"']*)?\1""")
# The lab's landing page and closing page (notebooks/README.md, done.ipynb) are not in a run's record: there the
# run's summary plays both parts.
LAB_PAGE = re.compile(r"""href=(["'])(?:README\.md|done\.ipynb)(#[^"']*)?\1""")


def page_name(step_id: str) -> str:
    return f"{step_id}.html"


@dataclass(frozen=True)
class Where:
    """The page's place in the run: the steps rendered in this run ({step id: page}), the tenant, the run."""

    step_id: str
    status: str
    summary: str
    tenant: str
    run_id: str
    pages: dict[str, str]


@functools.lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter  # only the record stage needs it (about 0.3 s to import)
    from traitlets.config import Config

    # What a record's page needs of nbconvert and no more (measured on a 2-core machine): no preprocessor
    # (nbconvert's defaults are all off, yet each ran and the notebook was validated after each: a quarter of
    # a page's time), no pygments stylesheet (the basic template does not use it), and the one code cell
    # shown (the parameters) as plain text: pygments' IPython lexer took about 0.8 s of CPU to compile.
    config = Config()
    config.CSSHTMLHeaderPreprocessor.enabled = False
    return HTMLExporter(config=config, template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True,
                        default_preprocessors=[], optimistic_validation=True, filters={"highlight_code": _plain})


def _plain(source: str, language=None, metadata=None) -> str:
    return f"<pre class=\"parameters\">{html.escape(source)}</pre>"


def notebook_body(notebook: Path) -> str:
    """The notebook's cells as HTML, code cells' sources left out but the injected parameters."""
    import nbformat

    with warnings.catch_warnings():  # a format warning would reach stderr around the gate; the page still renders
        warnings.simplefilter("ignore")
        nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and SHOWN_CODE not in cell.metadata.get("tags", []):
            cell.metadata["transient"] = {"remove_source": True}  # nbconvert's templates skip its source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body, _ = _exporter().from_notebook_node(nb)
    return body


def _step_links(body: str, pages: dict[str, str]) -> str:
    """A page's links to another step's notebook go to that step's page of this run (never a .ipynb)."""

    def swap(match: re.Match) -> str:
        target = pages.get(match.group(2))
        if target is None:  # that step has no page in this run: the link would lead nowhere
            return "data-not-run=\"this step has no page in this run\""
        return f"href={match.group(1)}{esc(target)}{match.group(3) or ''}{match.group(1)}"

    return LAB_PAGE.sub(lambda m: f"href={m.group(1)}summary.html{m.group(1)}", STEP_LINK.sub(swap, body))


def render(notebook: Path, where: Where) -> str:
    """The whole page for one step's output notebook."""
    order = list(STEPS)
    number = order.index(where.step_id) + 1 if where.step_id in order else 0
    title = STEPS[where.step_id].title if where.step_id in STEPS else where.step_id
    ran = [s for s in order if s in where.pages]
    here = ran.index(where.step_id) if where.step_id in ran else -1
    before = ran[here - 1] if here > 0 else None
    after = ran[here + 1] if 0 <= here < len(ran) - 1 else None
    nav = [link("summary.html", "↑ the run's summary", rel="up")]
    if before:
        nav.append(link(where.pages[before], f"← step {before[:2]} {before[3:].replace('_', ' ')}", rel="prev"))
    if after:
        nav.append(link(where.pages[after], f"step {after[:2]} {after[3:].replace('_', ' ')} →", rel="next"))
    head = f"""<nav>{''.join(nav)}</nav>
<h1>Step {number} of {len(order)}: {esc(title)}</h1>
<table><tr><th>tenant</th><td>{esc(where.tenant)}</td><th>run</th><td>{esc(where.run_id)}</td></tr>
<tr><th>status</th>{status_cell(where.status)}<th>summary</th><td>{esc(where.summary)}</td></tr></table>
<p class="muted">The step's notebook ({esc(notebook.name)}) as the run left it: its text, the parameters the run
gave it and every output; its other code is in the notebook file beside this page.</p>
<hr>"""
    body = _step_links(notebook_body(notebook), where.pages)
    return page(f"Step {where.step_id[:2]}: {where.tenant} {where.run_id}", head + body, style=NOTEBOOK_STYLE)


# The basic template's markup, made readable without its stylesheet.
NOTEBOOK_STYLE = """
.jp-Cell,.cell{margin:0.8em 0} .input_area pre,.jp-InputArea pre{font-size:90%}
.output_stderr pre{background:#fff8c5} .output_error pre{background:#ffebe9}
.anchor-link{visibility:hidden;text-decoration:none;margin-left:0.3em} :hover>.anchor-link{visibility:visible}"""
