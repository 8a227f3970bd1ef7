# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_TEST := $(VENV)/.installed-test

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[data,plot,progress,io]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $@ $(STAMP_BASE)

demo: $(STAMP_BASE)
	$(BIN)/python examples/demo.py

test: $(STAMP_TEST)
	$(BIN)/python -m pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP_TEST)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/bench_vs_torch.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache demo-output
