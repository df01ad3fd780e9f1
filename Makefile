# Everything runs from the project virtualenv, created from the hash-pinned lock file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test lint format schemas bench clean

venv: $(STAMP)

# Reinstall only when a lock file changes. requirements.lock is what runs
# (the Docker image installs only it); requirements-dev.lock adds the tools
# and test packages, with the same pins.
$(STAMP): requirements.lock requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
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
	if [ -L state/postgres ]; then \
		target="$$(readlink state/postgres)"; \
		case "$$target" in /var/tmp/ttai-pg-*) rm -rf "$$target" ;; esac; \
	fi
	rm -rf state $(VENV)
