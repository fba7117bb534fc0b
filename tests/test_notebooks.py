"""Layer 4: the committed notebooks executed for real, by papermill and by nbval, against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import papermill as pm
import pytest

from helpers.notebook.report import read_results
from helpers.steps import STEPS
from helpers.steps.params import PARAMETERS, RunbookParams
from helpers.tools.build import CLOSING, TABLE_END, TABLE_START, build, differing, landing_page, literal, runbook_table
from helpers.tools.nbval import scenario_environment, write_checked_copies
from tests.support import API_USER, SMS_ROLE, make_client

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

pytestmark = pytest.mark.notebooks


@pytest.fixture
def kernel_env(emulator, tmp_path):
    env = {"BP_EMULATOR_URL": emulator.url, "BP_RUNBOOK_HANDOFF": str(tmp_path / "handoff.json"),
           "BP_RUNBOOK_HEADLESS": "1"}
    with mock.patch.dict(os.environ, env):
        yield env


def execute(step_id: str, out_dir: Path, **parameters):
    """papermill one notebook; returns (recorded results, error or None). The output always exists."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / STEPS[step_id].notebook
    error = None
    try:
        pm.execute_notebook(str(NOTEBOOKS / STEPS[step_id].notebook), str(out), parameters=parameters,
                            cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    except pm.PapermillExecutionError as exc:
        error = exc
    assert out.exists()
    return read_results(out), error


def test_committed_notebooks_are_clean():
    """Parameters cell tagged; no secret-looking parameter; no output at all (nothing stale on a fresh
    page); one checked verdict cell; lines that fit the page; no reference the reader cannot open."""
    for step in STEPS.values():
        nb = nbformat.read(NOTEBOOKS / step.notebook, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, step.notebook
        declared = re.findall(r"^(\w+)\s*:", tagged[0].source, flags=re.M)
        assert declared == list(step.parameters), step.notebook
        assert max(len(line) for line in tagged[0].source.splitlines()) <= 100, step.notebook
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (step.notebook, cell.source)
                assert "NBVAL" not in cell.source  # test plumbing is a cell tag, not text the reader sees
        assert [c.source for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])] == [
            "nb.verdict(result)"]
        assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
        assert not re.search(r"\b[0-9A-Za-z]{40,}\b", json.dumps(nb)), step.notebook
        # The reference files of the project's authors are not in a clone: pages cite public documentation.
        assert "bright-pattern-api.md" not in json.dumps(nb) and "seed-sms-mms" not in json.dumps(nb)
        assert "**Documentation:** [" in nb.cells[0].source


def test_committed_notebooks_landing_page_and_readme_table_are_what_the_declarations_build():
    """Edits by hand drift from the step declarations (helpers/steps/<step>.py) and are lost at the next
    build: every notebook, the landing page and the README's runbook table must be what they build."""
    for step_id, step in STEPS.items():
        assert (NOTEBOOKS / step.notebook).read_text(encoding="utf-8") == nbformat.writes(build(step_id)) + "\n", (
            f"{step.notebook} differs from its template: run python -m helpers.tools.build")
    assert (NOTEBOOKS / "README.md").read_text(encoding="utf-8") == landing_page()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{TABLE_START}\n{runbook_table()}\n{TABLE_END}\n" in readme, "run python -m helpers.tools.build"
    assert differing() == [], "run python -m helpers.tools.build"
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted([s.notebook for s in STEPS.values()] + [CLOSING])


def test_parameters_cells_come_from_the_schema():
    """Each line is `name: type = default  # comment`, all four from the one schema."""
    defaults = RunbookParams()
    for step in STEPS.values():
        cell = build(step.id).cells[1].source.splitlines()[1:]
        for line, name in zip(cell, step.parameters, strict=True):
            declared, comment = line.split("  # ")
            assert re.sub(r"\s+$", "", declared) == (f"{name}: {RunbookParams.__dataclass_fields__[name].type} = "
                                                      f"{literal(getattr(defaults, name))}")
            assert comment == PARAMETERS[name].comment


def test_papermill_reads_every_parameter_of_every_notebook():
    """What `papermill --help-notebook` lists, and what papermill injects without 'unknown parameter'."""
    for step in STEPS.values():
        inspected = pm.inspect_notebook(str(NOTEBOOKS / step.notebook))
        assert list(inspected) == list(step.parameters), step.notebook
        assert all(entry["help"] for entry in inspected.values()), step.notebook


def test_practice_run_then_rerun_changes_nothing(kernel_env, tmp_path, console):
    first, second = tmp_path / "first", tmp_path / "second"
    statuses = {}
    for step_id in STEPS:
        results, error = execute(step_id, first, practice_mode=True, **({"smoke_test": True} if step_id == "06_smoke_test" else {}))
        assert error is None, error
        statuses[step_id] = results[0].status
    assert statuses == {"00_preflight": "ok", "01_grant_privilege": "changed", "02_define_user": "changed",
                        "03_api_secret": "changed", "04_access_token": "ok", "05_chat_service": "changed",
                        "06_smoke_test": "ok"}
    for step_id in STEPS:
        results, _ = execute(step_id, second, practice_mode=True)
        assert results[0].status in ("ok", "skipped") and results[0].changed == [], step_id

    # The API secret generated in practice mode reached the later kernels through the handoff file
    # and appears in no output notebook.
    handoff = json.loads(Path(kernel_env["BP_RUNBOOK_HANDOFF"]).read_text())
    secrets = [v for v in handoff.values()]
    assert len(secrets) == 2
    for nb in list(first.iterdir()) + list(second.iterdir()):
        text = nb.read_text()
        assert not any(s in text for s in secrets), nb.name


def test_untouched_tenant_steps_01_03_05_need_a_person(kernel_env, tmp_path):
    expected = {"01_grant_privilege": "Users & Teams > Roles", "03_api_secret": "API secret",
                "05_chat_service": "Outbound chat accounts"}
    for step_id, where in expected.items():
        results, error = execute(step_id, tmp_path)
        assert error is None
        assert results[0].status == "action-required"
        assert any(where in a for a in results[0].actions)
        text = (tmp_path / STEPS[step_id].notebook).read_text()
        assert where in text  # the instructions are in the auditable output itself


def test_failed_step_still_leaves_its_notebook(kernel_env, tmp_path):
    execute("01_grant_privilege", tmp_path, practice_mode=True)
    execute("02_define_user", tmp_path, practice_mode=True)
    execute("03_api_secret", tmp_path, practice_mode=True)
    execute("05_chat_service", tmp_path, practice_mode=True)
    results, error = execute("06_smoke_test", tmp_path, practice_mode=True, smoke_test=True,
                             test_destination="+15005550001")
    assert error is not None and error.ename == "StepFailed"
    assert results[0].status == "failed"
    assert results[0].summary.startswith("test message failed: 30003 Unreachable destination handset")


def test_bad_parameter_is_recorded_with_its_fix(kernel_env, tmp_path):
    results, error = execute("05_chat_service", tmp_path, access_number=16502505674)
    assert error is not None
    assert results[0].status == "failed"
    assert results[0].summary == ("bad parameter: parameter 'access_number': was read as a number, not text. "
                                  "Fix: quote it in the YAML file, e.g. access_number: \"+16502505674\"")


def run_nbval(env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """nbval over copies of the committed notebooks that carry the reference verdict lines."""
    copies = tmp_path / "nbval"
    write_checked_copies(copies)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), str(copies), "-q",
         "--rootdir", str(copies), "-o", f"cache_dir={tmp_path / 'cache'}"],
        cwd=NOTEBOOKS, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


def test_nbval_passes_on_the_committed_notebooks(emulator, tmp_path):
    proc = run_nbval(scenario_environment(emulator.url, str(tmp_path / "handoff.json")), tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", proc.stdout)


def test_nbval_fails_when_a_step_outcome_changes(emulator, tmp_path):
    # The user already exists, so step 02 says "ok" instead of the recorded "changed".
    env = scenario_environment(emulator.url, str(tmp_path / "handoff.json"))
    make_client(emulator, "admin", env["BP_ADMIN_SECRET"]).users.create(API_USER, "A", "B", "Admins", roles=[SMS_ROLE])
    proc = run_nbval(env, tmp_path)
    assert proc.returncode == 1
    assert "02_define_user.ipynb" in proc.stdout and "1 failed" in proc.stdout
