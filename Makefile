# Every target bootstraps .venv from requirements.txt when it is missing or older than its inputs,
# so on a fresh machine `make demo` and `make test` are each one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PARAMS ?= params/demo.yaml
PORT   ?= 8765

.PHONY: demo test lint lab emulator bench clean help

help:
	@echo "make demo      run the whole runbook against the embedded emulator (practice mode)"
	@echo "make test      run every test layer (emulator, client, notebooks via papermill and nbval, runner)"
	@echo "make lint      ruff over the code"
	@echo "make lab       open JupyterLab on notebooks/ (start 'make emulator' in another shell first)"
	@echo "make emulator  serve the practice tenant on http://127.0.0.1:$(PORT)"
	@echo "make bench     print timing figures of the client and the runbook against the emulator"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
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

demo: $(STAMP)
	$(BIN)/python -m helpers run --params $(PARAMS) --emulator

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

emulator: $(STAMP)
	$(BIN)/python -m emulator --port $(PORT)

bench: $(STAMP)
	$(BIN)/python -m tests.tools.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
