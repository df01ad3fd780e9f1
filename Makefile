# Everything runs from the project virtualenv, created from hash-pinned lock files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# uv reads no user or system configuration: the locks alone decide what installs.
UV_PIP := $(UV) pip --no-config --quiet

.PHONY: venv run test lint format schemas bench clean test-tools lock

venv: $(STAMP)

# The interpreter's own pip is never trusted with the project's lock: the pip
# that a new venv brings may be years old (Debian's 3.11 has 23.0.1), and pips
# before 23.3 resolve an extra asked for by a dependency against the newest
# release instead of the pin. It installs one thing only, the installer, pinned
# and hash-checked in requirements-installer.lock.
$(UV): requirements-installer.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-installer.lock
	touch $@

# Reinstall only when a lock file changes. requirements.lock is what runs
# (the Docker image installs only it); requirements-dev.lock adds the tools
# and test packages, with the same pins. Compiled to bytecode at install, as
# pip does and uv does not by default: otherwise every start compiles the
# packages' sources anew wherever Python may not write its caches.
$(STAMP): $(UV) requirements.lock requirements-dev.lock
	$(UV_PIP) install --python $(PY) --require-hashes --compile-bytecode -r requirements-dev.lock
	touch $@

# Regenerate the locks from pyproject.toml after changing a dependency there,
# or to take upstream fixes (UPGRADE=1 moves every pin to its newest release;
# without it, pins that still satisfy pyproject.toml stay as they are).
LOCK_ARGS := --generate-hashes --universal --python-version 3.11 $(if $(UPGRADE),--upgrade)
lock: $(UV)
	$(UV_PIP) compile $(LOCK_ARGS) pyproject.toml -o requirements.lock
	$(UV_PIP) compile $(LOCK_ARGS) --extra dev pyproject.toml -o requirements-dev.lock
	$(UV_PIP) compile $(LOCK_ARGS) requirements-installer.in -o requirements-installer.lock

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
	$(PY) -m workflows.registry

bench: venv
	@set -e; for script in bench/[!_]*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; $(PY) "$$script"; \
	done

# The private PostgreSQL cluster may live outside state/ (see ttai/servers/postgres.py),
# behind the state/postgres symlink: remove its target too.
clean:
	if [ -L state/postgres ]; then \
		target="$$(readlink state/postgres)"; \
		case "$$target" in /var/tmp/ttai-pg-*) rm -rf "$$target" ;; esac; \
	fi
	rm -rf state $(VENV)
