# Everything runs from the project virtualenv, created from the hash-pinned lock file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test lint format schemas bench clean test-tools

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
test: venv test-tools
	$(PY) -m pytest -q $(PYTEST_ARGS)

# What a person sees is tested with the real tools: the CLI in an 80-column
# terminal (tmux, tests/cli/test_cli_as_seen.py) and the Web UI in headless
# Chromium (tests/stack/test_web_ui.py). Installed here when missing (as root,
# with apt-get); otherwise the command to run is printed and the target fails,
# so nothing is skipped silently.
TEST_TOOLS := tmux chromium
test-tools:
	@missing=""; for tool in $(TEST_TOOLS); do \
		command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing (the tests look at the CLI and the Web UI as a person does)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }; \
		else \
			echo "missing:$$missing: install them (e.g. sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

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

# The private PostgreSQL cluster may live outside state/ (see ttai/stack/postgres_folder.py),
# behind the state/postgres symlink: remove its target too.
clean:
	if [ -L state/postgres ]; then \
		target="$$(readlink state/postgres)"; \
		case "$$target" in /var/tmp/ttai-pg-*) rm -rf "$$target" ;; esac; \
	fi
	rm -rf state $(VENV)
