# Quick start: `make demo` runs MedusaServ, `make test` runs every check CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make demo PORTS="9080 9060"` listens there instead of MedusaServ's defaults 8080 8060 8070 8666.
PORTS ?=

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# MedusaServ on its default ports, each one dual-stack socket, serving examples/www and its live
# status page; it prints the IPv4 and IPv6 URLs to open. Ctrl-C drains and stops it.
demo: $(VENV)/.installed
	@echo "Starting MedusaServ (examples/medusa_serv.py): the shipped site and /_medusa/status on every port"
	$(BIN)/python examples/medusa_serv.py $(foreach port,$(PORTS),--port $(port))

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src tests examples benchmarks

pytest: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_scheduling.py
	$(BIN)/python benchmarks/http_hello/run.py

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache
