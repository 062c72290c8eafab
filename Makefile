# Quick start: `make demo` runs the example server, `make test` runs every check CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# Until MedusaServ lands, the demo is the example HTTP server (a pipeline on dsexec.net).
demo: $(VENV)/.installed
	@echo "Starting examples/hello_pipeline.py on port $(PORT) (IPv4 and IPv6): point a browser at"
	@echo "  http://127.0.0.1:$(PORT)/  or  http://[::1]:$(PORT)/    (Ctrl-C stops it)"
	$(BIN)/python examples/hello_pipeline.py $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src tests examples

pytest: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_scheduling.py
	$(BIN)/python benchmarks/http_hello/run.py

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache
