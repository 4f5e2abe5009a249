# The two commands a new user needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
FLASK   := FLASK_APP=wsgi $(VENV)/bin/flask
STAMPS  := .make-stamps
PYTHON  ?= python3

.PHONY: help run test install vendor migrate lint format bench load demo-code system-deps pdf-deps clean

help:
	@echo "make run    install, migrate, load demo data if empty, serve on http://127.0.0.1:5000"
	@echo "make test   install, lint, and run every test on SQLite, PostgreSQL and Chromium"

$(STAMPS):
	@mkdir -p $(STAMPS)

# Python packages, reinstalled when pyproject.toml changes.
$(STAMPS)/python: pyproject.toml | $(STAMPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# npm packages, reinstalled when package-lock.json changes, then copied to static/vendor.
$(STAMPS)/npm: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

vendor: $(STAMPS)/npm
	@rm -rf static/vendor && mkdir -p static/vendor/nhsuk static/vendor/htmx
	@npm run -s build:css
	@cp node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.js static/vendor/nhsuk/
	@cp -r node_modules/nhsuk-frontend/dist/nhsuk/assets static/vendor/nhsuk/assets
	@cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/

install: $(STAMPS)/python vendor

migrate: install
	@$(FLASK) check-db
	@$(FLASK) db upgrade
	@$(FLASK) refresh-dashboard-facts

run: pdf-deps migrate
	@if $(FLASK) is-empty; then echo "Empty database: loading demo data..."; $(FLASK) seed-demo --quiet; fi
	@$(FLASK) demo-logins
	@echo "Serving on http://127.0.0.1:5000 (Ctrl+C stops the web server and the scheduler)"
	@trap 'kill 0' EXIT INT TERM; \
	  $(FLASK) run-scheduler & \
	  $(FLASK) run --host 127.0.0.1 --port 5000

# The demo admin and coordinator log in with a code from an authenticator app; this prints it.
demo-code: $(STAMPS)/python
	@$(FLASK) demo-code

# Debian packages the tests need: Chromium for browser journeys, PostgreSQL server binaries.
# PDF letters (WeasyPrint) need Pango and HarfBuzz's subsetter from the system.
PDF_LIBS_MISSING = { ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || need="$$need libpango-1.0-0 libpangoft2-1.0-0"; \
	ldconfig -p | grep -q 'libharfbuzz-subset.so.0' || need="$$need libharfbuzz-subset0"; }

pdf-deps:
	@need=""; $(PDF_LIBS_MISSING); \
	if [ -n "$$need" ]; then \
	  echo "Installing with apt:$$need"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need >/dev/null; \
	fi

system-deps:
	@need=""; $(PDF_LIBS_MISSING); \
	command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || need="$$need postgresql"; \
	if [ -n "$$need" ]; then \
	  echo "Installing with apt:$$need"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need >/dev/null; \
	fi

lint: $(STAMPS)/python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMPS)/python
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install system-deps lint
	$(VENV)/bin/pytest

# The benchmark-only packages (locust for the load test), on top of the test ones.
$(STAMPS)/bench: pyproject.toml $(STAMPS)/python | $(STAMPS)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $@

# Every benchmark, then the 5-minute load test of 50 users (benchmarks/load/README.md).
bench: install system-deps $(STAMPS)/bench
	@for script in benchmarks/*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(PY) $$script || exit 1; done
	@echo "== benchmarks/load/run.py"
	PYTHONPATH=. $(PY) benchmarks/load/run.py

# The load test alone.
load: install system-deps $(STAMPS)/bench
	PYTHONPATH=. $(PY) benchmarks/load/run.py

clean:
	rm -rf $(STAMPS) static/vendor .pytest_cache .ruff_cache
