# Everything runs from the project virtualenv, created from the hash-pinned lock file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test lint format schemas bench clean

venv: $(STAMP)

# Reinstall only when the lock file changes.
$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

run: venv
	$(PY) worker.py --local

# pytest's own exit codes pass through: 5 (no tests collected) fails too.
test: venv
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

schemas: venv
	$(PY) -m workflows.schemas

bench: venv
	@set -e; for script in bench/[!_]*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; $(PY) "$$script"; \
	done

# The private PostgreSQL cluster may live outside state/ (see ttai/stack/postgres.py),
# behind the state/postgres symlink: remove its target too.
clean:
	if [ -L state/postgres ]; then rm -rf "$$(readlink state/postgres)"; fi
	rm -rf state $(VENV)
