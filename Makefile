# `make run` and `make test` set everything up on a fresh Linux machine with Python 3.11.
# Both are idempotent: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup run test lint typecheck bench system-deps clean package package-test

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Qt's xcb/offscreen plugins need a few system libraries that minimal Debian/Ubuntu images lack.
# Installed only when missing and only when we may (root with apt-get); otherwise the app says
# which packages to install.
system-deps:
	@$(PYTHON) packaging/check_system_libs.py --install-if-root

run: setup system-deps
	$(VENV)/bin/workbench demo

# One pytest-xdist worker per core (at most 4): on CI's 2 cores the suite takes ~40% less time.
# The type check runs first: a misspelt attribute in core/ or training/ fails CI at once.
test: setup system-deps typecheck
	$(PY) -m pytest -q -n auto --maxprocesses 4 $(PYTEST_ARGS)

lint: setup typecheck
	$(VENV)/bin/ruff check workbench tests benchmarks

# mypy over workbench/core and workbench/training (settings in pyproject.toml).
typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# The installer (not part of `make test`): wheel -> PyInstaller app folder dist/workbench/ ->
# .deb + .tar.gz. Uses its own build environment under build/package/. WORKBENCH_SITE=<an
# environment's site-packages> reuses its torch & co. instead of downloading them.
package: system-deps
	WORKBENCH_SITE="$(WORKBENCH_SITE)" PYTHON="$(PYTHON)" packaging/build_app.sh
	packaging/make_packages.sh

# Self-test without Python, ldd of the Qt plugins, GUI screenshot under Xvfb, .deb/.desktop/
# AppStream validation, and the .deb installed into a minimal Debian root (root, network).
package-test:
	packaging/package_test.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
