# The two commands: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
VENV := .venv/bin
FACES ?= ../shared/faces

.PHONY: setup run test lint typecheck pytest eval bench teams-package clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/attendance run

test: setup lint typecheck pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

pytest:
	$(VENV)/pytest

eval: setup
	$(VENV)/attendance eval $(FACES) --json var/eval.json

bench: setup
	$(VENV)/attendance bench recognition $(FACES) --json var/bench-recognition.json
	$(VENV)/attendance bench match --json var/bench-match.json
	$(VENV)/attendance bench pipeline --checkins 300 --workers 2 --json var/bench-pipeline.json

# The Teams app package: make teams-package BOT_ID=<the bot's app id> HOST=<public host of attendance serve>
BOT_ID ?= $(CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID)
teams-package:
	python3 scripts/teams_package.py --bot-id "$(BOT_ID)" --host "$(HOST)" --out var/attendance-teams.zip

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
