# Developer shortcuts; the real work happens in scripts/dev.py.
#   make run                 migrate, seed demo data, run web + worker + beat
#   make test ARGS="-k foo"  lint, mypy, Django checks, then pytest (ARGS go to pytest)
#   make services            PostgreSQL + Redis for use from another shell

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
ARGS ?=

.PHONY: setup run test services lint format messages

setup: $(VENV)/.installed

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(VENV)/.installed: pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -e '.[dev]'
	touch $@

run: setup
	$(VENV_PYTHON) scripts/dev.py run

test: setup
	$(VENV_PYTHON) scripts/dev.py test $(ARGS)

services: setup
	$(VENV_PYTHON) scripts/dev.py services

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Extract strings, fill Russian from JSON files (FILES="a.json b.json"), compile, list gaps.
messages: setup
	$(VENV_PYTHON) scripts/translate.py $(FILES)
