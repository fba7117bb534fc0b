"""The package's shape: layers as folders, enforced by import-linter (the contracts in pyproject.toml
that `make lint` runs), small modules, and a top level that stays short."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

HELPERS = ROOT / "helpers"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400
MAX_TOP_LEVEL = 6


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """lint-imports as `make lint` runs it, on a copy of the packages, so a test can break the copy."""
    return subprocess.run([str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=project, env={"PYTHONPATH": str(project)}, timeout=120)


@pytest.fixture
def project(tmp_path) -> Path:
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("helpers", "emulator"):
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_layers_hold_as_committed(project):
    result = lint_imports(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module,upward,contract", [
    ("helpers/tenant/transport.py", "import helpers.steps.params", "each layer imports only the layers below it"),
    ("helpers/steps/checks.py", "from helpers.notebook import report", "each layer imports only the layers below it"),
    ("helpers/safety/scrub.py", "import helpers.run.record", "each layer imports only the layers below it"),
    ("emulator/routes.py", "import helpers.errors", "the emulator is a stand-in"),
    ("helpers/steps/preflight.py", "import emulator.server", "below the runner, nothing starts or knows the emulator"),
    ("helpers/run/runner.py", "import helpers.airflow.operator", "helpers.airflow runs in Airflow's environment"),
    ("helpers/airflow/outcome.py", "from helpers.run import exit_codes", "helpers.airflow calls the runner as a subprocess"),
])
def test_a_deliberate_upward_import_breaks_the_lint(project, module, upward, contract):
    path = project / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{upward}  # deliberately upward\n", encoding="utf-8")
    result = lint_imports(project)
    assert result.returncode != 0, result.stdout
    assert "1 broken" in result.stdout and contract in result.stdout, result.stdout


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in HELPERS.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules (at most {MAX_LINES} lines each): {long}"


def test_the_top_level_of_helpers_stays_short():
    modules = sorted(p.name for p in HELPERS.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL, f"at most {MAX_TOP_LEVEL} modules at helpers/'s top level: {modules}"
    layers = {p.name for p in HELPERS.iterdir() if (p / "__init__.py").is_file()}
    # airflow: beside the layers, imported by Airflow's environment only (pyproject.toml's contracts)
    assert layers == {"safety", "tenant", "steps", "notebook", "run", "tools", "airflow"}


def test_no_test_file_imports_another():
    """Shared helpers live in tests/support/: a test module importing another runs its tests' imports and
    fixtures twice and hides what is shared."""
    offenders = []
    for path in (ROOT / "tests").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("from tests.test_", "import tests.test_", "from .test_", "from .conftest",
                                    "from tests.conftest")):
                offenders.append(f"{path.name}: {stripped}")
    assert not offenders, offenders
