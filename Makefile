# Quick start: `make demo` runs MedusaServ, `make test` runs every check CI runs (on the pure
# build in .venv, then the suite again on the mypyc-compiled build in .venv-compiled).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make demo PORTS="9080 9060"` listens there instead of MedusaServ's defaults 8080 8060 8070 8666.
PORTS ?=
# The compiled build (setup.py: the hot modules compiled with mypyc) lives in a venv of its own.
COMPILED_VENV ?= .venv-compiled
CBIN := $(COMPILED_VENV)/bin
SOURCES := $(shell find src -name '*.py') setup.py pyproject.toml

.PHONY: demo test lint typecheck pytest pytest-compiled bench clean

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

# Its dependencies once; then, whenever a source changes, the package itself, compiled (no build
# isolation, so a rebuild does not fetch the build requirements again: they are installed here).
$(COMPILED_VENV)/.deps: pyproject.toml
	test -x $(CBIN)/python || $(PYTHON) -m venv $(COMPILED_VENV)
	$(CBIN)/python -m pip install --quiet --upgrade pip 'setuptools>=77' wheel
	DSEXEC_PURE_PYTHON=1 $(CBIN)/python -m pip install --quiet '.[dev]'
	touch $@

$(COMPILED_VENV)/.installed-dev: $(COMPILED_VENV)/.deps $(SOURCES)
	DSEXEC_COMPILE=1 $(CBIN)/python -m pip install --quiet --no-deps --no-build-isolation \
		--force-reinstall .
	$(CBIN)/python -c "import dsexec, sys; sys.exit(not dsexec.compiled)"
	touch $@

# The whole suite again, on the compiled build (tests import the installed package, not src/).
pytest-compiled: $(COMPILED_VENV)/.installed-dev
	$(CBIN)/python -m pytest -q -p no:cacheprovider

test: lint typecheck pytest pytest-compiled

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_scheduling.py
	$(BIN)/python benchmarks/http_hello/run.py

clean:
	rm -rf $(VENV) $(COMPILED_VENV) build .mypy_cache .pytest_cache .ruff_cache
	find src -name '*.so' -delete  # DSEXEC_COMPILE=1 pip install -e . builds them in place
