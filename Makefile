# edgekit developer entry points. `make setup` is idempotent and is what CI runs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.edgekit-installed
JS_DIR := edgekit/js
JS_STAMP := $(JS_DIR)/node_modules/.edgekit-installed

.PHONY: setup setup-python setup-js setup-system test lint bench clean

setup: setup-python setup-js setup-system

setup-python: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[convert,runtimes,dev]"
	@touch $@

setup-js: $(JS_STAMP)

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# System components the test-suite exercises for real (sshd for the SSH device, chromium later).
setup-system:
	@bash .ci/system-deps.sh

test: setup
	$(VENV)/bin/pytest -q

lint: setup-python
	$(VENV)/bin/ruff check edgekit tests benchmarks

bench: setup
	$(PY) benchmarks/cli_startup.py
	$(PY) benchmarks/convert_vs_standalone.py

clean:
	rm -rf $(VENV) $(JS_DIR)/node_modules .pytest_cache
