"""Builds from the step declarations (`STEP = Step(...)` in each helpers/steps/<step>.py) and the
parameter schema (helpers/steps/params.py): the notebooks notebooks/NN_*.ipynb, the landing page
notebooks/README.md, and the README's runbook table (only the lines between its two markers), so
that a step is described in one place and the seven runbook pages stay alike.

    python -m helpers.tools.build           # writes every file that differs
    python -m helpers.tools.build --check   # writes nothing; exits 1 naming every file that differs

After changing a page's text or a step's parameters, run it, then `python -m helpers.tools.refresh`
to re-record the verdict lines nbval checks (tests/notebook_references.json). The committed notebooks
carry no outputs: a freshly opened page shows nothing stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.steps import STEPS
from helpers.steps.declaration import Step
from helpers.steps.params import PARAMETERS, RunbookParams
from helpers.tools.nbval import CHECKED

ROOT = Path(__file__).resolve().parents[2]
TABLE_START = "<!-- runbook-table:start (built from the step declarations: python -m helpers.tools.build) -->"
TABLE_END = "<!-- runbook-table:end -->"
TABLE_HEAD = ("| Notebook | Step | How it acts | How it is verified |", "|---|---|---|---|")

PRACTICE_URL = "http://127.0.0.1:8765/_emulator/"
PRACTICE_UI = (f"the practice admin UI (by default [{PRACTICE_URL}]({PRACTICE_URL}); `make lab` prints its address if "
               "it is another)")
CLOSING = "done.ipynb"  # the closing page after the last step: not a step, so not numbered (docs/decisions.md)
CLOSING_TITLE = "Done: what this session did, what is left, where the record is"
FOLDED = {"jupyter": {"source_hidden": True}}  # plumbing cells: folded in JupyterLab (a click shows them)


class BuildError(Exception):
    """A file the builder writes into cannot be built (the README lost its table markers)."""


def _step(step: str | Step) -> Step:
    return step if isinstance(step, Step) else STEPS[step]


def position(step_id: str | Step) -> str:
    """'Step 2 of 7': where a page is on the path, counted from 1 (the notebooks are numbered from 00)."""
    ids = list(STEPS)
    return f"Step {ids.index(_step(step_id).id) + 1} of {len(ids)}"


def heading(step_id: str | Step) -> str:
    step = _step(step_id)
    return f"{position(step)} · {step.number} {step.title}"


def _link(step_id: str | None) -> str | None:
    if step_id is None:
        return None
    if step_id == CLOSING:
        return f"[the closing page: what was done, what is left]({CLOSING})"
    step = _step(step_id)
    return f"[{position(step)}: {step.number} {step.title}]({step.notebook})"


def neighbours(step_id: str | Step) -> tuple[str | None, str]:
    """The previous step's id (None for the first) and the next page (a step's id, or the closing page)."""
    ids = list(STEPS)
    i = ids.index(_step(step_id).id)
    return (ids[i - 1] if i else None), (ids[i + 1] if i + 1 < len(ids) else CLOSING)


def path_line(step_id: str | Step) -> str:
    """The line that opens and closes every page: where it is, back, the start, next."""
    previous, following = neighbours(step_id)
    parts = [f"**{position(step_id)}**"]
    if previous:
        parts.append(f"← previous: {_link(previous)}")
    parts += ["[all steps](README.md)", f"next: {_link(following)} →"]
    return " · ".join(parts)


def page(step_id: str | Step) -> str:
    """The page's first cell: where it is on the path, why, what a person does in the admin UI; what it
    checks, a good result and the documentation folded below (an HTML <details>)."""
    step = _step(step_id)
    text = step.page
    parts = [path_line(step), f"# {heading(step)}", f"**Why.** {text.why}"]
    if text.admin:
        parts.append(f"**In the admin UI** (Contact Center Administrator). {text.admin} On the emulator, do it "
                     f"in {PRACTICE_UI}, or tick *practice mode* in the form below and the runbook acts through the "
                     "emulator's console, labelled as such in every record (refused for any other target).")
    parts += ["**How to use this page.** Run > Run All Cells. The result appears under *Result* in plain words, "
              "its details folded below it; the form lets you change a value or paste a secret and run the step "
              "again.",
              "<details><summary>What this page checks, a good result, documentation</summary>",
              f"**What this notebook checks.** {text.checks}", f"**A good result.** {text.good}",
              "**Documentation:** " + "; ".join(text.docs) + ".", "</details>"]
    return "\n\n".join(parts)


def next_cell(step_id: str | Step) -> str:
    """The page's last words: where to go next (after the plumbing cells, which are folded)."""
    previous, following = neighbours(step_id)
    if following == CLOSING:
        go = f"**Next:** {_link(CLOSING)} →, once the result above is `ok` or `changed`."
    else:
        go = (f"**Next:** {_link(following)} →, once the result above is `ok` or `changed` (or it says to go on); "
              "otherwise do what it lists and run this page again.")
    return go + "\n\n" + path_line(step_id)


def literal(value) -> str:
    return repr(value) if not isinstance(value, str) else '"' + value.replace('"', '\\"') + '"'


def parameters_cell(step_id: str | Step) -> str:
    """`name: type = default  # comment` per parameter, from the schema: what `papermill --help-notebook` shows."""
    defaults = RunbookParams()
    names = list(_step(step_id).parameters)
    lines = [f"{n}: {RunbookParams.__dataclass_fields__[n].type} = {literal(getattr(defaults, n))}" for n in names]
    width = max(len(line) for line in lines if len(line) <= 44)  # comments aligned, unless a value is long
    body = "\n".join(line.ljust(width) + f"  # {PARAMETERS[n].comment}" for line, n in zip(lines, names, strict=True))
    return ("# Parameters: papermill puts its values after this cell. Secrets are never parameters.\n" + body)


def build(step_id: str | Step) -> nbformat.NotebookNode:
    step = _step(step_id)
    number = step.number
    cells = [
        new_markdown_cell(page(step)),
        new_code_cell(parameters_cell(step), metadata={"tags": ["parameters"]}),
        new_code_cell(f'from helpers.notebook import StepNotebook\n\nnb = StepNotebook("{step.id}", globals())',
                      metadata=FOLDED),
        new_markdown_cell("## Form (optional)\n\nEdit the values and press the button: they are copied into the "
                          "parameters above and the step runs again; its result replaces the one below. Fields "
                          "a person rarely changes are folded under *Advanced*."),
        new_code_cell("form = nb.form()", metadata=FOLDED),
        new_markdown_cell(f"## Result (step {number}: check, act, verify)"),
        new_code_cell("result = nb.run()", metadata=FOLDED),
        new_code_cell("nb.verdict(result)", metadata={"tags": [CHECKED], **FOLDED}),
        new_code_cell("nb.raise_if_failed(result)", metadata=FOLDED),
        new_markdown_cell(next_cell(step)),
    ]
    for i, cell in enumerate(cells):  # fixed ids: rebuilding an unchanged page changes nothing
        cell.id = f"step{number}-cell{i}"
    return _notebook(cells)


def _notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def closing() -> nbformat.NotebookNode:
    """The page after the last step: what this lab session's pages found, what is left, where the record is."""
    last = list(STEPS)[-1]
    intro = "\n\n".join([
        f"**After {position(last)}** · ← previous: {_link(last)} · [all steps](README.md)",
        f"# {CLOSING_TITLE}",
        "Run > Run All Cells. This page reads what the runbook pages found when you ran them in this lab (kept "
        "for 12 hours beside the secrets you handed over): each step's latest result, what is left to do, and "
        "where the record is. It changes nothing on the tenant.",
    ])
    names = ("tenant_url", "scope")
    params = "\n".join(line for line in parameters_cell(STEPS[last]).splitlines()
                        if line.startswith("#") or line.split(":")[0] in names)
    cells = [new_markdown_cell(intro), new_code_cell(params, metadata={"tags": ["parameters"]}),
             new_code_cell("from helpers.notebook.closing import session_summary\n\nsession_summary(globals())",
                           metadata=FOLDED),
             new_markdown_cell("Back to [the runbook's start](README.md), or to "
                               f"{_link(list(STEPS)[0])} to run it for another tenant.")]
    for i, cell in enumerate(cells):
        cell.id = f"done-cell{i}"
    return _notebook(cells)


def notebook_text(step_id: str | Step | None) -> str:
    """The notebook file's exact text, as nbformat.write writes it (None: the closing page)."""
    text = nbformat.writes(closing() if step_id is None else build(step_id))
    return text if text.endswith("\n") else text + "\n"


def landing_page() -> str:
    rows = [f"| {position(step)} | [{step.id}]({step.notebook}) | {step.title} | {step.who_acts} |"
            for step in STEPS.values()]
    first = list(STEPS)[0]
    return f"""# SMS/MMS API onboarding runbook

Before an external application can send texts through a Bright Pattern tenant's SMS/MMS API, an
administrator grants a privilege, defines a user, generates its API secret, checks that a token works,
and makes sure a chat service uses the SMS access number. These notebooks walk you through it, one
step per page: each checks first, acts where an API allows, tells you exactly what to do where only
the admin UI can act, and then verifies.

**Start here:** {_link(first)}. Each page links to the next one; after the last step,
[the closing page]({CLOSING}) says what was done, what is left and where the record is.

| Step | Notebook | What | Who acts |
|---|---|---|---|
{chr(10).join(rows)}
| after the last | [{CLOSING[:-6]}]({CLOSING}) | {CLOSING_TITLE} | nobody: it reads what the pages found |

**Open them in order and run all cells** (Run > Run All Cells). Each page's result starts with its
verdict in plain words: *Done* (`ok`, or `changed`: the runbook changed something and verified it),
*Your turn* (`action-required`: do what the result lists, then run the page again), *Failed* or
*Skipped*; the details (what was observed, the evidence) are folded below it.

**Practising here: what to do first.** `make lab` started a local emulator of a Bright Pattern tenant
and {PRACTICE_UI}, which stands in for Contact Center Administrator.

1. In the practice admin UI, open Users & Teams > Users > **admin** and press **Generate** under
   *API secret*; copy the value it shows once.
2. Open {_link(first)}, run all cells, paste the value into the form's **admin API secret** field and
   press *Run step 00 with these values*. The runbook keeps it for the next pages (for the admin
   steps 02 and 05); `python -m helpers forget` deletes it.
3. Go on page by page. Where a page says *In the admin UI*, do it in the practice admin UI exactly as
   written (Users & Teams > Roles, Users & Teams > Users, Services & Campaigns, Directory > Access
   numbers). For a quick pass without clicking, tick *practice mode* in a page's form: the runbook
   then acts through the emulator's console, and says so.

**A real tenant.** Set `tenant_url` to `https://<your tenant host>`; secrets come from the forms'
secret fields, `BP_API_SECRET` / `BP_ADMIN_SECRET`, or the keyring, never from parameters. To run
all steps headless and keep a record: `python -m helpers run --params params/<tenant>.yaml`.

**The last run's report.** Each headless run writes `outputs/<tenant>/<UTC time>/summary.html`
(`make demo` prints its path); `python -m helpers history` lists the latest runs.
"""


def runbook_table() -> str:
    """The README's runbook table: one row per step, from its declaration."""
    rows = [f"| `{step.id}` | {step.row.step} | {step.row.acts} | {step.row.verified} |" for step in STEPS.values()]
    return "\n".join([*TABLE_HEAD, *rows])


def with_table(readme: str) -> str:
    """The README with the lines between each pair of marker lines replaced by its table: the runbook
    table, and what each command and step reads and writes on the tenant (helpers/tools/access.py)."""
    from helpers.tools import access

    for name, start, end, table in (("runbook table", TABLE_START, TABLE_END, runbook_table),
                                    ("access table", access.START, access.END, access.access_table)):
        lines = readme.splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if line.startswith(start.split(" (")[0])]
        ends = [i for i, line in enumerate(lines) if line.strip() == end]
        if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
            raise BuildError(f"README.md needs the {name} between one line {start} and one line {end}")
        readme = "".join(lines[:starts[0] + 1]) + table() + "\n" + "".join(lines[ends[0]:])
    return readme


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every file the declarations build, with the text it must have."""
    built = {root / "notebooks" / step.notebook: notebook_text(step) for step in STEPS.values()}
    built[root / "notebooks" / CLOSING] = notebook_text(None)
    built[root / "notebooks" / "README.md"] = landing_page()
    readme = root / "README.md"
    built[readme] = with_table(readme.read_text(encoding="utf-8"))
    return built


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def differing(root: Path = ROOT) -> list[Path]:
    """The files whose committed text is not what the declarations build."""
    return [path for path, text in outputs(root).items() if _current(path) != text]


def main(argv: list[str] | None = None, root: Path = ROOT, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m helpers.tools.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every file that differs")
    args = parser.parse_args(argv)
    try:
        built = outputs(root)
    except BuildError as exc:
        print(f"error: {exc}", file=out)
        return 1
    changed = [path for path, text in built.items() if _current(path) != text]
    for path in changed:
        if args.check:
            print(f"differs from the step declarations: {path.relative_to(root)}", file=out)
        else:
            path.write_text(built[path], encoding="utf-8")
            print(f"wrote {path.relative_to(root)}", file=out)
    if args.check and changed:
        print("run: python -m helpers.tools.build", file=out)
        return 1
    if not changed:
        print(f"{len(built)} files are what the step declarations build", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
