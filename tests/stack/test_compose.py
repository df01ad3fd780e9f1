"""docker-compose.yml and the Dockerfile, checked offline (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_no_secret_literals(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for name in ("POSTGRES_PASSWORD", "POSTGRES_PWD", "SQL_PASSWORD", "TTAI_ENCRYPTION_KEYS"):
        for value in re.findall(rf"^\s*{name}:\s*(.+)$", text, flags=re.MULTILINE):
            assert value.startswith("${") and ":?" in value, (name, value)


def test_setup_registers_every_search_attribute(compose: dict[str, Any]) -> None:
    script = compose["services"]["temporal-setup"]["command"][0]
    for key in search_attributes.ALL:
        assert key.name in script
        assert key.indexed_value_type.name.title() == "Keyword"


def test_dockerfile_runs_the_worker_as_non_root() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["python", "worker.py"]' in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "state"} <= set(ignored)
