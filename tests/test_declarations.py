"""Units: each step is declared once, in its own module; the registry finds the declarations by
scanning the package; the builder makes the notebooks, the landing page and the README's runbook
table from them, and its --check names every file that differs."""

from __future__ import annotations

import importlib
import inspect
import io
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import helpers.steps
from helpers.steps import STEPS, discover
from helpers.steps.declaration import Page, Row, Step
from helpers.steps.params import validate
from helpers.steps.preflight import plan_lines
from helpers.tools import build

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ("00_preflight", "01_grant_privilege", "02_define_user", "03_api_secret", "04_access_token",
           "05_chat_service", "06_smoke_test")  # today's steps; a new one is a new module, not an edit here


def declarations(module) -> list[str]:
    return [name for name, value in vars(module).items() if isinstance(value, Step)]


def test_every_step_module_declares_exactly_one_step_of_its_own():
    """A step module (helpers/steps/<name>.py, its step NN_<name>) declares one Step, as STEP, of its
    own function; no other module declares one."""
    declaring = {}
    for info in pkgutil.iter_modules(helpers.steps.__path__):
        module = importlib.import_module(f"helpers.steps.{info.name}")
        names = declarations(module)
        if names:
            assert names == ["STEP"], (info.name, names)
            assert module.STEP.id[3:] == info.name, info.name
            assert module.STEP.run.__module__ == module.__name__, info.name  # its own step function
            declaring[module.STEP.id] = module.STEP
    assert declaring == STEPS
    assert set(RUNBOOK) <= set(STEPS)


def test_the_registry_orders_the_declarations_by_id():
    assert list(STEPS) == sorted(STEPS)
    assert [s for s in STEPS if s in RUNBOOK] == list(RUNBOOK)
    assert all(step.id == step_id and step.notebook == f"{step_id}.ipynb" for step_id, step in STEPS.items())
    assert STEPS == discover()


def test_the_registry_is_built_only_by_scanning_the_package():
    """No step id is written in the registry's module: it knows the steps only from their modules."""
    source = inspect.getsource(helpers.steps)
    assert not re.search(r"\b0\d_[a-z]", source)
    assert not any(step_id[3:] in source for step_id in STEPS)


FAKE_STEP = '''
from helpers.steps.declaration import COMMON, Page, Row, Step
from helpers.steps.results import OK


def {name}(ctx):
    return ctx.result().finish(OK, "{name} ran")


STEP = Step(id="{step_id}", title="The {name} step", run={name}, parameters=COMMON + ("api_user",),
            page=Page(why="Why {name}.", admin=None, checks="What {name} checks.", good="`ok`.",
                      docs=("[Docs](https://help.brightpattern.com)",)),
            who_acts="automated", row=Row(step="{name}", acts="acts", verified="verified"),
            plan=lambda p, admin: "automated: {name}")
'''


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package of its own with step modules, on sys.path for this test only."""
    package = tmp_path / "fake_step_package"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m == package.name or m.startswith(package.name + ".")]:
        del sys.modules[name]


def test_discovery_finds_step_modules_it_was_never_told_about(fake_package):
    (fake_package / "zeta.py").write_text(FAKE_STEP.format(name="zeta", step_id="00_zeta"), encoding="utf-8")
    (fake_package / "alpha.py").write_text(FAKE_STEP.format(name="alpha", step_id="01_alpha"), encoding="utf-8")
    (fake_package / "helper.py").write_text("VALUE = 1\n", encoding="utf-8")  # not a step: ignored
    found = discover(fake_package.name, [str(fake_package)])
    assert list(found) == ["00_zeta", "01_alpha"]  # by id, not by module name
    assert found["01_alpha"].run.__name__ == "alpha"


def test_discovery_refuses_a_step_declared_twice_or_not_a_step(fake_package):
    (fake_package / "one.py").write_text(FAKE_STEP.format(name="one", step_id="00_same"), encoding="utf-8")
    (fake_package / "two.py").write_text(FAKE_STEP.format(name="two", step_id="00_same"), encoding="utf-8")
    with pytest.raises(ValueError, match="'00_same' is declared twice"):
        discover(fake_package.name, [str(fake_package)])
    (fake_package / "two.py").unlink()
    (fake_package / "three.py").write_text("STEP = 'three'\n", encoding="utf-8")
    with pytest.raises(TypeError, match="STEP is not a Step"):
        discover(fake_package.name, [str(fake_package)])


def test_a_declaration_naming_an_unknown_parameter_or_secret_is_refused():
    page, row = Page("w", None, "c", "g", ()), Row("s", "a", "v")
    common = {"title": "t", "run": print, "page": page, "who_acts": "automated", "row": row}
    with pytest.raises(ValueError, match="unknown or repeated ones \\(colour\\)"):
        Step(id="07_x", parameters=("role", "colour"), **common)
    with pytest.raises(ValueError, match="repeated"):
        Step(id="07_x", parameters=("role", "role"), **common)
    with pytest.raises(ValueError, match="form secrets"):
        Step(id="07_x", parameters=("role",), form_secrets=("keyring",), **common)
    with pytest.raises(ValueError, match="NN_name"):
        Step(id="x", parameters=("role",), **common)


def test_a_new_step_module_is_all_it_takes(tmp_path):
    """A copy of the project with one more module in helpers/steps: the registry, preflight's plan and
    the builder (its notebook, the landing page, the README's table) take it up; nothing else is edited."""
    shutil.copytree(ROOT / "helpers", tmp_path / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "helpers" / "steps" / "callback_check.py").write_text(
        FAKE_STEP.format(name="callback_check", step_id="07_callback_check"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json")}

    def python(*args):
        return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)

    check = python("-m", "helpers.tools.build", "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    # Every page changes with it: each says "Step N of 8" now, and step 06 and the closing page link to the new one.
    pages = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + ["07_callback_check.ipynb"]
    assert re.findall(r"differs from the step declarations: (\S+)", check.stdout) == [
        *(f"notebooks/{name}" for name in pages), "notebooks/done.ipynb", "notebooks/README.md", "README.md"]
    assert python("-m", "helpers.tools.build").returncode == 0
    assert python("-m", "helpers.tools.build", "--check").returncode == 0

    probe = python("-c", "import helpers; from helpers.steps import STEPS, run_step; from helpers.steps.params import "
                         "validate; from helpers.steps.preflight import plan_lines; print(helpers.__file__); "
                         "print(list(STEPS)); print(plan_lines(validate({}), False)['07_callback_check']); "
                         "print(run_step('07_callback_check', validate({})).summary)")
    assert probe.returncode == 0, probe.stderr
    where, steps, plan, summary = probe.stdout.splitlines()
    assert Path(where).is_relative_to(tmp_path)  # the copy, not the checkout
    assert steps.endswith("'06_smoke_test', '07_callback_check']")
    assert (plan, summary) == ("automated: callback_check", "callback_check ran")
    assert "| [07_callback_check](07_callback_check.ipynb) | The callback_check step | automated |" in (
        tmp_path / "notebooks" / "README.md").read_text(encoding="utf-8")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "| `07_callback_check` | callback_check | acts | verified |\n<!-- runbook-table:end -->" in readme
    assert '"# Parameters: papermill' in (tmp_path / "notebooks" / "07_callback_check.ipynb").read_text(encoding="utf-8")


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """What the builder writes, copied: the README and the notebooks."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def test_check_flags_a_changed_readme_table_row_and_writes_nothing(project_copy):
    out = io.StringIO()
    assert build.main(["--check"], root=project_copy, out=out) == 0, out.getvalue()
    readme = project_copy / "README.md"
    edited = readme.read_text(encoding="utf-8").replace("`POST /configapi/v2/oauth/token`, client credentials |",
                                                        "`POST /configapi/v2/oauth/token` |", 1)
    assert edited != readme.read_text(encoding="utf-8")
    readme.write_text(edited, encoding="utf-8")
    out = io.StringIO()
    assert build.main(["--check"], root=project_copy, out=out) == 1
    assert out.getvalue().splitlines() == ["differs from the step declarations: README.md",
                                           "run: python -m helpers.tools.build"]
    assert readme.read_text(encoding="utf-8") == edited  # --check wrote nothing
    assert build.main([], root=project_copy, out=io.StringIO()) == 0
    assert readme.read_text(encoding="utf-8") == (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_builder_touches_only_the_lines_between_the_markers(project_copy):
    readme = project_copy / "README.md"
    text = readme.read_text(encoding="utf-8")
    readme.write_text("# Elsewhere edited\n" + text.replace(build.runbook_table(), "| stale |"), encoding="utf-8")
    assert build.main([], root=project_copy, out=io.StringIO()) == 0
    assert readme.read_text(encoding="utf-8") == "# Elsewhere edited\n" + text


def test_check_names_a_notebook_edited_by_hand_and_a_readme_without_markers(project_copy):
    notebook = project_copy / "notebooks" / "03_api_secret.ipynb"
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("**Why.**", "**Why?**"), encoding="utf-8")
    out = io.StringIO()
    assert build.main(["--check"], root=project_copy, out=out) == 1
    assert "differs from the step declarations: notebooks/03_api_secret.ipynb" in out.getvalue()
    readme = project_copy / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(build.TABLE_END, ""), encoding="utf-8")
    out = io.StringIO()
    assert build.main(["--check"], root=project_copy, out=out) == 1
    assert "README.md needs the runbook table between one line <!-- runbook-table:start" in out.getvalue()


# The plan preflight showed before the declarations carried it, for every combination that changes it.
PLAN_BEFORE = {
    (False, False, False, False): {
        "01_grant_privilege": "guided: admin UI only; verified with the API user's token",
        "02_define_user": "guided: no usable admin credentials; verified with the API user's token when possible",
        "03_api_secret": "guided: admin UI only; verified by a token request",
        "04_access_token": "automated: requests a token and probes the SMS/MMS API with it",
        "05_chat_service": "guided: no usable admin credentials, so it cannot be verified",
        "06_smoke_test": "skipped: smoke_test is false (it sends a real text)"},
    (True, False, False, True): {
        "01_grant_privilege": "practice: through the emulator console; verified with the API user's token",
        "02_define_user": "automated: creates the user if missing",
        "03_api_secret": "practice: through the emulator console; verified by a token request",
        "04_access_token": "automated: requests a token and probes the SMS/MMS API with it",
        "05_chat_service": "practice: through the emulator console; verified through /phone/ext",
        "06_smoke_test": "skipped: smoke_test is false (it sends a real text)"},
    (False, True, True, True): {
        "01_grant_privilege": "guided: admin UI only; verified with the API user's token",
        "02_define_user": "dry run: observe only",
        "03_api_secret": "guided: admin UI only; verified by a token request",
        "04_access_token": "automated: requests a token and probes the SMS/MMS API with it",
        "05_chat_service": "guided: admin UI only; verified through /phone/ext",
        "06_smoke_test": "skipped: dry run"},
    (False, False, True, True): {
        "01_grant_privilege": "guided: admin UI only; verified with the API user's token",
        "02_define_user": "automated: creates the user if missing",
        "03_api_secret": "guided: admin UI only; verified by a token request",
        "04_access_token": "automated: requests a token and probes the SMS/MMS API with it",
        "05_chat_service": "guided: admin UI only; verified through /phone/ext",
        "06_smoke_test": "automated: sends one text to +15551234567"},
}


@pytest.mark.parametrize("practice,dry_run,smoke_test,admin", list(PLAN_BEFORE))
def test_the_plan_is_the_declarations_plan_lines_as_before(practice, dry_run, smoke_test, admin):
    params = validate({"practice_mode": practice, "dry_run": dry_run, "smoke_test": smoke_test})
    assert plan_lines(params, admin) == PLAN_BEFORE[(practice, dry_run, smoke_test, admin)]


# ------------------------------------------------------------------ what each step reads and writes on the tenant
def test_every_step_declares_what_it_reads_and_writes_and_the_readme_shows_it():
    from helpers.tools import access

    assert access.missing() == []
    readme = (build.ROOT / "README.md").read_text(encoding="utf-8")
    assert build.with_table(readme) == readme, "run: python -m helpers.tools.build"
    for step in STEPS.values():
        assert f"| step `{step.id}` | {step.row.reads} | {step.row.writes} |" in readme


def test_the_only_writes_declared_are_create_user_and_send_message():
    """The README's promise ("two requests change a tenant"): a step that starts writing must say so here."""
    writers = {step.id: step.row.writes for step in STEPS.values() if not step.row.writes.startswith("nothing")}
    assert set(writers) == {"02_define_user", "06_smoke_test"}
    assert "Create User" in writers["02_define_user"] and "Send Message" in writers["06_smoke_test"]


def test_a_readme_without_the_access_table_markers_is_refused():
    from helpers.tools import access

    readme = (build.ROOT / "README.md").read_text(encoding="utf-8").replace(access.END + "\n", "")
    with pytest.raises(build.BuildError, match="access-table"):
        build.with_table(readme)
