# edgekit developer entry points. `make setup` is idempotent and is what CI runs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.edgekit-installed
JS_DIR := edgekit/js

.PHONY: setup setup-python setup-js setup-system demo test smoke-py313 lint bench clean

# Order matters: system packages (node, npm) before the npm install.
setup: setup-system setup-python setup-js

setup-python: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[all,dev]"
	@touch $@

# The JavaScript runtimes: `edgekit setup` runs npm ci from edgekit/js/package-lock.json into the per-user cache
# ($XDG_CACHE_HOME/edgekit/js/<lockfile hash>), the same mechanism a pip-installed edgekit uses; idempotent.
setup-js: setup-python
	$(VENV)/bin/edgekit setup

# System components the test-suite exercises for real (sshd for the SSH device, chromium later).
setup-system:
	@bash .ci/system-deps.sh
	@bash .ci/browser-deps.sh

# The README's main job: train MobileNetV2 on real digits (offline), convert it to every format, validate everything.
demo: setup
	$(VENV)/bin/edgekit quickstart --out demo-out --force

test: setup
	$(VENV)/bin/pytest -q --durations=30

# The newer stack (Python 3.13, TensorFlow 2.21) from the built wheel in a fresh venv: see .ci/smoke-py313.sh.
smoke-py313: setup-python
	bash .ci/smoke-py313.sh

lint: setup-python
	$(VENV)/bin/ruff check edgekit tests benchmarks

bench: setup
	$(PY) benchmarks/cli_startup.py
	$(PY) benchmarks/convert_vs_standalone.py
	$(PY) benchmarks/litert_overhead.py
	$(PY) benchmarks/tfjs_overhead.py
	$(PY) benchmarks/validate_wall.py
	$(PY) benchmarks/recipe_quality.py
	PYTHONPATH=. $(PY) benchmarks/contain_cost.py 2 all tflite-int8
	PYTHONPATH=. $(PY) benchmarks/int8_target.py

# Opt-in, not in CI: the SSH device path against an emulated aarch64 Raspberry Pi python (qemu user-mode).
.PHONY: test-rpi-emulated
test-rpi-emulated: setup-python
	bash scripts/rpi-emulated.sh

clean:
	rm -rf $(VENV) $(JS_DIR)/node_modules .pytest_cache
