# The two commands: `make run` and `make test`. Both set everything up first.
# `make test` = ruff, the import contracts (docs/architecture.md), mypy --strict, pytest.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
VENV := .venv/bin
FACES ?= $(or $(ATTENDANCE_FACES_DIR),../shared/faces)

.PHONY: setup setup-tests setup-playground playground test-playground image test-deploy run demo test lint typecheck pytest eval bench bench-web screenshots teams-package clean

setup:
	@bash scripts/setup.sh

# what the tests need besides: Chromium for the browser tests
setup-tests:
	@bash scripts/setup.sh --tests

# what Microsoft's Agents Playground needs besides: Node.js and npm
setup-playground:
	@bash scripts/setup.sh --playground

# Local runs accept the Agents Playground's unsigned Teams messages (on loopback only; see README)
run: setup
	TEAMS_ALLOW_ANONYMOUS=$${TEAMS_ALLOW_ANONYMOUS:-1} $(VENV)/attendance run

test: setup-tests lint typecheck pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports

typecheck:
	$(VENV)/mypy

# the suite runs on TEST_WORKERS processes (pytest-xdist), each with its own embedded database
TEST_WORKERS ?= 2

pytest:
	@[ -f "$(FACES)/MANIFEST.csv" ] || { echo "make test: the development face set is missing: the tests read real photos from $(FACES) (the shared/faces folder beside this repository, with its MANIFEST.csv); put it there or set ATTENDANCE_FACES_DIR to where it is." >&2; exit 1; }
	ATTENDANCE_FACES_DIR="$(abspath $(FACES))" $(VENV)/pytest -n $(TEST_WORKERS) --dist worksteal

# Microsoft 365 Agents Playground (a local Teams client) talking to the bot, as the demo's Alex Wilber
playground: setup-playground
	@bash scripts/playground.sh

# The bot driven through the Playground's own HTTP API (needs npm, so not part of `make test`; CI runs both)
test-playground: setup-playground
	@[ -f "$(FACES)/MANIFEST.csv" ] || { echo "make test-playground: the development face set is missing at $(FACES) (see make test)." >&2; exit 1; }
	ATTENDANCE_PLAYGROUND_BIN="$$(bash scripts/playground.sh install)" ATTENDANCE_FACES_DIR="$(abspath $(FACES))" \
		$(VENV)/pytest tests/playground

# The container image: localhost/attendance:<version> and :latest (podman, or docker; see README)
image: setup
	@bash scripts/image.sh

# The image and deploy/kubernetes running here: podman run, podman kube play (CI runs it after make test)
test-deploy: image
	@[ -f "$(FACES)/MANIFEST.csv" ] || { echo "make test-deploy: the development face set is missing at $(FACES) (see make test)." >&2; exit 1; }
	source scripts/container-engine.sh && ATTENDANCE_FACES_DIR="$(abspath $(FACES))" $(VENV)/pytest tests/containers

# a demo company with a month of attendance and an admin account, then the service (Ctrl-C stops it)
demo: setup
	$(VENV)/attendance demo
	TEAMS_ALLOW_ANONYMOUS=$${TEAMS_ALLOW_ANONYMOUS:-1} $(VENV)/attendance run

eval: setup
	$(VENV)/attendance eval $(FACES) --json var/eval.json

bench: setup
	$(VENV)/attendance bench recognition $(FACES) --json var/bench-recognition.json
	$(VENV)/attendance bench match --json var/bench-match.json
	$(VENV)/attendance bench pipeline --checkins 300 --workers 2 --json var/bench-pipeline.json

# The dashboard's page and API timings (a 1,000-person tenant with a month of events)
bench-web: setup
	$(VENV)/attendance bench web --people 1000 --days 30 --clients 20 --json var/bench-web.json

# The README's screenshots, taken by the browser tests in headless Chromium
screenshots: setup-tests
	ATTENDANCE_SCREENSHOTS=docs/screenshots $(VENV)/pytest tests/web/test_browser.py -q

# The Teams app package: make teams-package BOT_ID=<the bot's app id> HOST=<public host of attendance serve>
BOT_ID ?= $(CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID)
teams-package:
	python3 scripts/teams_package.py --bot-id "$(BOT_ID)" --host "$(HOST)" --out var/attendance-teams.zip

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
