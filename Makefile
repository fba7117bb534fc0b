# Every target bootstraps .venv from requirements.txt when it is missing or older than its inputs,
# so on a fresh machine `make demo` and `make test` are each one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PARAMS ?= params/demo.yaml
PORT   ?= 8765

.PHONY: lock demo demo-fleet test test-fast lint lab emulator bench screenshots clean help airflow-test

help:
	@echo "make demo      run the whole runbook against the embedded emulator (practice mode)"
	@echo "make demo-fleet  the same for twenty practice tenants, two at a time (a fleet run)"
	@echo "make test      lint, then every test layer (emulator, client, notebooks via papermill and nbval, runner, browser)"
	@echo "make test-fast lint, then every layer except the notebook and browser ones (under a minute, while working)"
	@echo "make lint      ruff, and import-linter: the layers of helpers/ (pyproject.toml, [tool.importlinter])"
	@echo "make lab       practise: JupyterLab on notebooks/ and the emulator with its practice admin UI (reused if running)"
	@echo "make emulator  serve the practice tenant on http://127.0.0.1:$(PORT)"
	@echo "make bench     print timing figures of the client and the runbook against the emulator"
	@echo "make lock      re-lock requirements.txt from requirements.in (LOCK_ARGS=--upgrade takes upgrades)"
	@echo "make screenshots  refresh docs/screenshots/ from the browser tests (the README shows them)"
	@echo "make airflow-test  the Airflow operator and DAG (helpers/airflow/, dags/) in their own venv, .venv-airflow: unit tests, 'airflow dags test', and 20 tenants under a scheduler on PostgreSQL"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# requirements.txt is the lock (make lock): every package at one version, each file's hash checked.
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
	# The checkout itself, installed editable: on the venv's path, and its entry points registered
	# (papermill finds the bp-kernel-pool engine through one). pip builds it with setuptools in an isolated
	# environment; the hand-written .pth of earlier checkouts goes.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	$(BIN)/python -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'bp_runbook.pth').unlink(missing_ok=True)"
	# A python3 kernel spec inside the venv, so papermill and nbval run kernels with this venv's python.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (runbook)" >/dev/null
	# Kernels listen on loopback only; ipykernel's "TCP without encryption" warning would open every run's output.
	$(BIN)/python -c "import json, pathlib, sys; p = pathlib.Path(sys.prefix, 'share/jupyter/kernels/python3/kernel.json'); k = json.loads(p.read_text()); a = '--IPKernelApp.log_level=ERROR'; k['argv'] += [] if a in k['argv'] else [a]; p.write_text(json.dumps(k, indent=1))"
	touch $(STAMP)

# Twenty practice tenants in one run, two at a time, sharing warm kernels (docs/fleets.md).
demo-fleet: $(STAMP)
	$(BIN)/python -m helpers run --params params/fleet/ --emulator --emulator-seed fleet --jobs 2

demo: $(STAMP)
	$(BIN)/python -m helpers run --params $(PARAMS) --emulator

test: lint
	$(BIN)/python -m pytest

# The layers that need no notebook kernel and no browser: what to run while working.
test-fast: lint
	$(BIN)/python -m pytest -m "not notebooks and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# Reuses an emulator already answering at $$BP_EMULATOR_URL (default :8765), else starts one for the session;
# `make lab PORT=9000` looks for it on :9000 instead. LAB_ARGS go to JupyterLab (e.g. LAB_ARGS=--no-browser).
lab: $(STAMP)
	$(BIN)/python -m helpers.tools.lab $(if $(filter command line,$(origin PORT)),--emulator-port $(PORT)) $(LAB_ARGS)

emulator: $(STAMP)
	$(BIN)/python -m emulator --port $(PORT)

# The README's screenshots come from the browser tests, so they stay true: refresh the copies here.
screenshots: $(STAMP)
	BP_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_browser.py tests/test_practice_ui.py -k "not readme"

# Re-lock after editing requirements.in (or to take upgrades): pip-tools, in a throwaway environment,
# writes requirements.txt with every transitive version and the hashes of its files.
PIP_TOOLS := pip-tools==7.6.2
lock:
	test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install -q "$(PIP_TOOLS)")
	.venv-lock/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links $(LOCK_ARGS) -o requirements.txt requirements.in

bench: $(STAMP)
	$(BIN)/python -m helpers.tools.bench

# The Airflow DAG (dags/) is tested in its own venv so that nothing of Airflow enters .venv: the project's
# venv recipe above (the locked requirements, the editable install, the kernelspec) builds it, then Airflow
# is resolved under the lock's versions as constraints (pip check must stay clean).
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.airflow-installed

$(AIRFLOW_STAMP): dags/requirements.txt requirements.txt pyproject.toml
	$(MAKE) --no-print-directory VENV=$(AIRFLOW_VENV) $(AIRFLOW_VENV)/.installed
	$(AIRFLOW_VENV)/bin/python -c "import re; open('$(AIRFLOW_VENV)/constraints.txt', 'w').write(''.join(l.split(' ')[0] + '\n' for l in open('requirements.txt') if re.match(r'^[A-Za-z0-9._-]+==', l)))"
	$(AIRFLOW_VENV)/bin/python -m pip install -q --disable-pip-version-check -r dags/requirements.txt -c $(AIRFLOW_VENV)/constraints.txt
	$(AIRFLOW_VENV)/bin/python -m pip check
	touch $(AIRFLOW_STAMP)

airflow-test: $(AIRFLOW_STAMP)
	# The checkout first on the path: the DAG imports helpers.airflow from this checkout.
	PYTHONPATH=$(CURDIR) $(AIRFLOW_VENV)/bin/python -m pytest -p no:cacheprovider --durations=5 dags/tests

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .venv-lock .pytest_cache .ruff_cache
