# Two commands for a fresh clone: `make run` (the demo) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# The embedded default is a development setup: SQLite and a filesystem broker under var/.
export DEBUG ?= true
# Links in messages point at the port the app really runs on. Exported here, not read from PORT
# in settings, because honcho gives each process its own PORT (worker 8100, beat 8200) and the
# worker and beat build the links. A SITE_URL in the environment or in .env still wins.
export SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test bench install lint format clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/activate

# axe-core, injected into pages by the accessibility tests; only needed by `make test`.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/activate

run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "homevisits is starting on http://127.0.0.1:$(PORT)/  (health: http://127.0.0.1:$(PORT)/healthz)"
	@echo "Sign in with any login above. Stop with Ctrl-C."
	@echo
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

test: install node_modules/axe-core/axe.min.js
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/celery-broker var/celerybeat-schedule* var/staticfiles
