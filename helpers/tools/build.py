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

PRACTICE_UI = ("the practice admin UI (the emulator's `/_emulator/` page; `make lab` prints its address, by "
               "default `http://127.0.0.1:8765/_emulator/`)")


class BuildError(Exception):
    """A file the builder writes into cannot be built (the README lost its table markers)."""


def _step(step: str | Step) -> Step:
    return step if isinstance(step, Step) else STEPS[step]


def heading(step_id: str | Step) -> str:
    step = _step(step_id)
    return f"Step {step.number} · {step.title}"


def page(step_id: str | Step) -> str:
    """The page's first cell: why, what a person does in the admin UI, what it checks, a good result, documentation."""
    step = _step(step_id)
    text = step.page
    parts = [f"# {heading(step)}", f"**Why.** {text.why}"]
    if text.admin:
        parts.append(f"**In the admin UI** (Contact Center Administrator). {text.admin} On the emulator, do it "
                     f"in {PRACTICE_UI}, or set `practice_mode = True` and the runbook acts through the emulator's "
                     "console, labelled as such in every record (refused for any other target).")
    parts += [f"**What this notebook checks.** {text.checks}", f"**A good result.** {text.good}",
              "**Documentation:** " + "; ".join(text.docs) + "."]
    return "\n\n".join(parts)


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
        new_code_cell(f'from helpers.notebook import StepNotebook\n\nnb = StepNotebook("{step.id}", globals())'),
        new_markdown_cell("## Form (optional)\n\nEdit the values and press the button: they are copied into the "
                          "parameters above and the step runs again; its result replaces the one below."),
        new_code_cell("form = nb.form()"),
        new_markdown_cell(f"## Check, act, verify (step {number})"),
        new_code_cell("result = nb.run()"),
        new_code_cell("nb.verdict(result)", metadata={"tags": [CHECKED]}),
        new_code_cell("nb.raise_if_failed(result)"),
    ]
    for i, cell in enumerate(cells):  # fixed ids: rebuilding an unchanged page changes nothing
        cell.id = f"step{number}-cell{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def notebook_text(step_id: str | Step) -> str:
    """The notebook file's exact text, as nbformat.write writes it."""
    text = nbformat.writes(build(step_id))
    return text if text.endswith("\n") else text + "\n"


def landing_page() -> str:
    rows = [f"| [{step.id}]({step.notebook}) | {step.title} | {step.who_acts} |" for step in STEPS.values()]
    return f"""# SMS/MMS API onboarding runbook

Before an external application can send texts through a Bright Pattern tenant's SMS/MMS API, an
administrator grants a privilege, defines a user, generates its API secret, checks that a token works,
and makes sure a chat service uses the SMS access number. These notebooks walk you through it, one
step per page: each checks first, acts where an API allows, tells you exactly what to do where only
the admin UI can act, and then verifies.

| Notebook | Step | Who acts |
|---|---|---|
{chr(10).join(rows)}

**Open them in order and run all cells** (Run > Run All Cells). Each page ends with one verdict line:
`ok`, `changed` (the runbook changed something and verified it), `action-required` (do what the
result lists, then run the page again), `failed` or `skipped`.

**Practising here.** `make lab` started a local emulator of a Bright Pattern tenant. Where a page says
*In the admin UI*, open {PRACTICE_UI}: it stands in for Contact Center Administrator (Users & Teams >
Roles, Users & Teams > Users, Services & Campaigns, Directory > Access numbers), and you follow the
page's instructions there exactly as written. For a quick pass without clicking, set
`practice_mode = True` in a page's form: the runbook then acts through the emulator's console, and
says so. For the admin steps (02, 05) paste the emulator admin's API secret into the **admin API
secret** field of page 00, 02 or 05 (generate it in the practice admin UI: Users & Teams > Users >
admin > Generate).

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
