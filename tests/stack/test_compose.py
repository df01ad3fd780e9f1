"""docker-compose.yml and the Dockerfile, checked offline (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ttai.config import PROJECT_ROOT
from ttai.temporal import search_attributes

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_present(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "temporal", "temporal-ui", "codec-server", "worker"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    # Temporal persists in the compose PostgreSQL.
    temporal_env = services["temporal"]["environment"]
    assert temporal_env["DB"] == "postgres12"
    assert temporal_env["POSTGRES_SEEDS"] == "postgres"


def test_worker_is_scalable_and_supervised(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    # `--scale worker=3` fails with a fixed container name or host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["build"] == "."
    assert "replicas" in worker["deploy"]
    assert worker["restart"] == "unless-stopped"
    assert "test" in worker["healthcheck"]
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = worker["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["DATABASE_URL"].endswith("@postgres:5432/ttai")


def test_long_running_services_have_health_checks_and_restart(compose: dict[str, Any]) -> None:
    for name in ("postgres", "temporal", "codec-server", "worker"):
        service = compose["services"][name]
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    assert compose["services"]["temporal-ui"]["restart"] == "unless-stopped"


def test_published_ports_are_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


SECRETS = (
    "POSTGRES_PASSWORD",
    "POSTGRES_PWD",
    "SQL_PASSWORD",
    "PGPASSWORD",
    "TTAI_DB_PASSWORD",
    "TTAI_ENCRYPTION_KEYS",
    "TTAI_CODEC_TOKEN",
    "TTAI_CHANNEL_KEY",
)


def test_no_secret_literals(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        # Every mention is a required variable: no literal, no empty default.
        for value in re.findall(rf"^\s*{name}:(.*)$", text, flags=re.MULTILINE):
            value = value.strip()
            assert value.startswith("${") and ":?" in value, (name, value)


def test_codec_server_requires_a_token(compose: dict[str, Any]) -> None:
    env = compose["services"]["codec-server"]["environment"]
    assert env["TTAI_CODEC_HOST"] == "0.0.0.0"  # beyond loopback inside its container
    token = env.get("TTAI_CODEC_TOKEN") or ""
    assert token.startswith("${TTAI_CODEC_TOKEN:?"), token


def test_workers_share_one_channel_key(compose: dict[str, Any]) -> None:
    env = compose["services"]["worker"]["environment"]
    assert env["TTAI_CHANNEL_KEY"].startswith("${TTAI_CHANNEL_KEY:?")


def test_worker_database_role_is_not_the_superuser(compose: dict[str, Any]) -> None:
    services = compose["services"]
    superuser = services["postgres"]["environment"]["POSTGRES_USER"]
    worker = services["worker"]
    url = urlsplit(worker["environment"]["DATABASE_URL"])
    assert url.username == "ttai_app"
    assert url.username not in superuser
    assert url.password is None  # from PGPASSWORD: the URL can be printed
    assert "POSTGRES_PASSWORD" not in str(worker["environment"])
    assert worker["environment"]["PGPASSWORD"].startswith("${TTAI_DB_PASSWORD:?")
    # A one-shot service makes the role (not a superuser) and hands it the database.
    setup = services["db-setup"]
    assert setup["command"] == ["python", "-m", "ttai.db.provision"]
    assert setup["environment"]["TTAI_DB_ROLE"] == url.username
    assert setup["environment"]["TTAI_DB_NAME"] == url.path.lstrip("/")
    assert setup["environment"]["TTAI_DB_PASSWORD"].startswith("${TTAI_DB_PASSWORD:?")
    assert worker["depends_on"]["db-setup"]["condition"] == "service_completed_successfully"


def test_base_images_pinned_by_digest(compose: dict[str, Any]) -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases
    for base in bases:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base), base
    assert re.fullmatch(
        r"postgres:16@sha256:[0-9a-f]{64}", compose["services"]["postgres"]["image"]
    )


def test_images_are_pinned_by_digest_or_the_docs_say_why_not(compose: dict[str, Any]) -> None:
    """Issue 22: pinned by digest, or named in docs/security.md, which says why not."""
    security = (PROJECT_ROOT / "docs" / "security.md").read_text()
    unpinned = set()
    for service in compose["services"].values():
        image = service.get("image", "")
        if "build" in service or "@sha256:" in image:
            continue  # built here (the Dockerfile's base is pinned), or pinned
        unpinned.add(image.split(":", 1)[0])
    if unpinned:
        assert "not pinned by digest" in security
    for repository in unpinned:
        assert f"`{repository}`" in security, repository


def test_setup_registers_every_search_attribute(compose: dict[str, Any]) -> None:
    script = compose["services"]["temporal-setup"]["command"][0]
    for key in search_attributes.ALL:
        assert key.name in script
        assert key.indexed_value_type.name.title() == "Keyword"


def test_dockerfile_runs_the_worker_as_non_root() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim@sha256:", dockerfile, flags=re.MULTILINE)
    assert "pip install --no-deps --require-hashes -r requirements-installer.lock" in dockerfile
    assert (
        "uv pip install --system --no-config --require-hashes -r requirements.lock"
        " --compile-bytecode" in dockerfile
    )
    assert "requirements-dev.lock" not in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["python", "worker.py"]' in dockerfile


def _lock_pins(name: str) -> dict[str, str]:
    text = (PROJECT_ROOT / name).read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, flags=re.MULTILINE))


def test_runtime_lock_holds_no_dev_packages() -> None:
    runtime, dev = _lock_pins("requirements.lock"), _lock_pins("requirements-dev.lock")
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    dev_only = {
        re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0].lower().replace("_", "-")
        for req in project["optional-dependencies"]["dev"]
    }
    assert dev_only and not dev_only & set(runtime), dev_only & set(runtime)
    assert dev_only <= set(dev)
    # One set of pins: what runs in the image is what the tests ran against.
    assert {name: dev[name] for name in runtime} == runtime
    for requirement in project["dependencies"]:
        assert re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() in runtime


def _docker_ignores(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins (`!` re-includes); a
    pattern matching a folder covers everything in it."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = ""
        body = pattern.lstrip("!").strip("/")
        i = 0
        while i < len(body):
            if body.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif body.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif body[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif body[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(body[i]), i + 1
        if re.fullmatch(regex + "(?:/.*)?", path):
            ignored = not negate
    return ignored


def test_build_context_leaves_out_tests_state_and_secrets() -> None:
    lines = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    needed = ["worker.py", "starter.py", "pyproject.toml", "requirements.lock"]
    for package in ("ttai", "workflows", "activities"):
        needed += [
            path.relative_to(PROJECT_ROOT).as_posix()
            for path in (PROJECT_ROOT / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ]
    assert needed and not [f for f in needed if _docker_ignores(f, patterns)]
    for path in (
        "tests/conftest.py",
        "state/pgpass",
        "state/temporal.db",
        ".venv/bin/python",
        ".git/config",
        "requirements-dev.lock",
        ".env",
        "deploy/.env.production",
        "tastytrade-secrets.json",
        "config/tt_secrets.toml",
        "keys/encryption.keys",
        "server.key",
        "certs/client.pem",
        "somewhere/.pgpass",
        "home/id_ed25519",
    ):
        assert _docker_ignores(path, patterns), path
