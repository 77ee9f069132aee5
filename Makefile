# Quick start: `make run` (everything on a laptop) and `make test` (the whole suite).
# Without DATABASE_URL an embedded PostgreSQL (pgserver) runs under .data/pg;
# without CELERY_BROKER_URL Celery uses a filesystem broker under .data/broker.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EMBED  := $(BIN)/python -m config.embedded
# DEBUG is off unless set (config/settings/base.py). The laptop's own tools (collectstatic at install, `make check`)
# run with it on unless the environment says otherwise, so that they need no SECRET_KEY.
LAPTOP := DEBUG=$${DEBUG:-True}

.PHONY: install run test test-fast bench check lint fmt clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# Debian packages: Pango and HarfBuzz for WeasyPrint's PDFs, Chromium for the browser tests (only what is missing)
	.ci/system-packages
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# static files (the admin's, Swagger UI's and ReDoc's) under STATIC_ROOT, served by WhiteNoise
	$(LAPTOP) $(EMBED) $(BIN)/python manage.py collectstatic --noinput -v 0
	touch $(STAMP)

install: $(STAMP)

run: install
	# WeasyPrint's Pango and HarfBuzz may have gone since the install: check again (installs or prints the command)
	.ci/system-packages
	$(BIN)/python -m config.devserver

test: install
	$(EMBED) $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(EMBED) $(BIN)/python -m pytest -m "not browser and not celery_worker and not slow" $(PYTEST_ARGS)

bench: install
	$(EMBED) $(BIN)/python -m tests.benchmarks $(if $(ONLY),--only $(ONLY),)

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(LAPTOP) $(EMBED) $(BIN)/python manage.py makemigrations --check --dry-run
	$(LAPTOP) $(EMBED) $(BIN)/python manage.py check
	# the import contracts in pyproject.toml; no cache dir: the graph takes a fraction of a second
	$(BIN)/lint-imports --no-cache

lint: check

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# the Russian catalog after adding strings: extract them into locale/ru/LC_MESSAGES/django.po, translate the new
# entries, then compile the .mo that is committed (a fresh machine needs no gettext tools). Needs GNU gettext.
messages: install
	$(LAPTOP) $(EMBED) $(BIN)/python manage.py makemessages -l ru --no-location -i ".venv/*" -i "staticfiles/*" -i "tests/*" -i ".data/*" -i "docs/*"
	$(LAPTOP) $(EMBED) $(BIN)/python manage.py compilemessages -l ru

clean:
	rm -rf .data .pytest_cache .ruff_cache .hypothesis
