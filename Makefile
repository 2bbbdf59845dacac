# VCK Connect — everyday commands. `make help` lists them.
SHELL := /bin/bash
# uv from PATH, else the one `make install` puts into python3's site-packages.
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen
SERVICES := scripts/services.sh
# `vck` defaults to production, which refuses the development secrets; the everyday
# commands here are local ones. Deployments set VCK_ENVIRONMENT themselves.
export VCK_ENVIRONMENT ?= development

.PHONY: help install services services-stop migrate seed demo test lint format i18n i18n-check diagrams bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install:  ## create .venv from uv.lock (installs uv with pip when missing)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

services:  ## start PostgreSQL (PostGIS, ltree) and Redis if they are not reachable
	@$(SERVICES) start >/dev/null

services-stop:  ## stop the private PostgreSQL and Redis started by `make services`
	@$(SERVICES) stop

migrate: install services  ## bring the database to the newest schema
	@$(RUN) vck db upgrade

seed: migrate  ## load the Tamil Nadu demo data (idempotent)
	@$(RUN) vck seed demo

demo: seed  ## services, migrations, demo data, server and worker, then a console chat
	@scripts/demo.sh

lint: install  ## ruff (lint and format check) and mypy on core, bot, notifier and cli
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy

format: install  ## apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

i18n: install  ## extract sentences, update and compile the Tamil and English catalogs
	@$(RUN) pybabel extract -F babel.cfg -c TRANSLATORS: -o locales/messages.pot --no-location --omit-header --sort-output . >/dev/null
	@$(RUN) pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching -w 100 >/dev/null
	@$(RUN) pybabel compile -d locales -D messages --statistics

diagrams: install  ## regenerate docs/flows/*.md, each flow's diagram, from its declaration
	@$(RUN) python -m bot.flows.diagrams

test: install services lint  ## everything CI runs: services, lint, the whole suite
	@$(RUN) pytest

bench: install services  ## the performance figures of the issues (never asserted in tests)
	@$(RUN) python -m benchmarks

clean:  ## remove caches (not the services' data)
	@rm -rf .pytest_cache .ruff_cache .mypy_cache
