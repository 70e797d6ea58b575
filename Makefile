# Two commands: `make run` starts the server, `make test` runs every check.
# Each sets up what it needs first and is quick when everything is already in place.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
CHROMIUM := /usr/bin/chromium
NPM_STAMP := sdk/node_modules/.installed
SDK_STAMP := sdk/dist/.built
SDK_SOURCES := $(shell find sdk/src -name '*.ts') sdk/build.mjs sdk/tsconfig.json
UI_NPM_STAMP := ui/node_modules/.installed
UI_STAMP := ui/dist/.built
UI_SOURCES := $(shell find ui/src -name '*.ts' -o -name '*.tsx' -o -name '*.css') ui/build.mjs ui/tsconfig.json

.PHONY: run test lint typecheck pytest bench setup clean

run: $(RUN_STAMP) $(SDK_STAMP) $(UI_STAMP)
	$(VENV)/bin/userlens serve

test: $(DEV_STAMP) $(SDK_STAMP) $(UI_STAMP) $(CHROMIUM)
	sdk/node_modules/.bin/tsc -p sdk/tsconfig.json
	ui/node_modules/.bin/tsc -p ui/tsconfig.json
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

setup: $(DEV_STAMP) $(SDK_STAMP) $(UI_STAMP) $(CHROMIUM)

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

# Pinned browser packages: esbuild and TypeScript to build our snippet, rrweb, and the
# posthog-js bundles the server serves to pages that use posthog-js.
$(NPM_STAMP): sdk/package.json sdk/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd sdk && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# The snippet (userlens.js, userlens.esm.js) and the lazily loaded recorder, into sdk/dist.
$(SDK_STAMP): $(NPM_STAMP) $(SDK_SOURCES) sdk/package.json
	cd sdk && node build.mjs
	touch $@

# The web app: Preact pages in TypeScript, bundled by esbuild into ui/dist.
$(UI_NPM_STAMP): ui/package.json ui/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd ui && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(UI_STAMP): $(UI_NPM_STAMP) $(UI_SOURCES) ui/package.json
	cd ui && node build.mjs
	touch $@

# Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

bench: $(DEV_STAMP) $(SDK_STAMP) $(UI_STAMP) $(CHROMIUM)
	$(PY) bench/capture.py
	$(PY) bench/sdk_size.py
	$(PY) bench/sdk_overhead.py
	$(PY) bench/queries.py --millions 10,50
	$(PY) bench/web.py
	$(PY) bench/player.py

clean:
	rm -rf $(VENV) sdk/node_modules sdk/dist .mypy_cache .pytest_cache .ruff_cache
