# Two entry points: `make up` runs the platform, `make test` runs every check.
# Both create .venv on first use and install pinned versions from constraints.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: up test lint pytest bench clean

$(VENV)/.runtime: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

up: $(VENV)/.runtime
	$(BIN)/eaf up

test: lint pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	bench/run

clean:
	rm -rf $(VENV) .eaf .pytest_cache .mypy_cache .ruff_cache
