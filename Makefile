# Two commands do all the set-up: `make demo` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The torch build to install; override for a specific CUDA build, e.g. TORCH="torch==2.13.0 --index-url ...".
TORCH ?= torch==2.13.0

.PHONY: install demo test docs clean-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(VENV)/.install-stamp: $(BIN)/python setup.py settings.ini
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(VENV)/.install-stamp

demo: install
	$(BIN)/python -m trigger_nb.demo

test: install
	$(BIN)/python tools/run_tests.py
