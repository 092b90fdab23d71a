# The two commands a newcomer needs: `make run` and `make test`. Only Python 3.11 is required.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint format bench requirements messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changed.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  POS Merchant Portal: http://127.0.0.1:$(PORT)/   (staff: http://127.0.0.1:$(PORT)/admin/)"
	@echo "  Starting web, worker and beat. Ctrl-C stops everything."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" PORTAL_PORT=$(PORT) $(BIN)/honcho start

# The suite runs in one pytest-xdist worker per core (PYTEST_WORKERS=0: in this process only).
# worksteal: each worker starts on its own half and takes work from the other when done.
PYTEST_WORKERS ?= auto
test: $(VENV)/.dev-installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

# Timings of the ledger at volume (100 000 transactions; BENCH_ROWS=… to change), printed as a
# table. Uses a throw-away database: SQLite, or PostgreSQL when DATABASE_URL is set.
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/settlements.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin requirements*.txt from requirements*.in.
requirements: $(VENV)/.dev-installed
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements-dev.txt requirements-dev.in

# Extract translatable text into locale/*/LC_MESSAGES/django.po, then compile the catalogues.
messages: $(VENV)/.dev-installed
	$(BIN)/python manage.py makemessages --locale zh_Hans --ignore '.venv/*' --ignore 'var/*' --no-obsolete
	$(BIN)/python manage.py compilemessages --locale zh_Hans --ignore '.venv/*'

clean:
	rm -rf var/ .pytest_cache
