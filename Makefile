# Two commands: `make run` starts the server, `make test` runs every check.
# Each sets up what it needs first and is quick when everything is already in place.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
CHROMIUM := /usr/bin/chromium
NPM_STAMP := sdk/node_modules/.installed

.PHONY: run test lint typecheck pytest bench setup clean

run: $(RUN_STAMP) $(NPM_STAMP)
	$(VENV)/bin/userlens serve

test: $(DEV_STAMP) $(NPM_STAMP) $(CHROMIUM)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

setup: $(DEV_STAMP) $(NPM_STAMP) $(CHROMIUM)

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { PY3=$$(command -v python3); \
	  echo "using $$PY3"; }
	$$(command -v $(PYTHON) || command -v python3) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): $(VENV)/bin/python requirements/run.lock pyproject.toml
	$(PY) -m pip install --quiet -r requirements/run.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(VENV)/bin/python requirements/dev.lock pyproject.toml
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(RUN_STAMP) $@

# Pinned browser packages the server serves (posthog-js) or pages load (rrweb's replayer).
$(NPM_STAMP): sdk/package.json sdk/package-lock.json
	cd sdk && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

bench: $(DEV_STAMP)
	$(PY) bench/capture.py

clean:
	rm -rf $(VENV) sdk/node_modules .mypy_cache .pytest_cache .ruff_cache
