"""`mcp_server.py --http`: loopback by default, a bearer token always (TTAI_MCP_TOKEN,
else one generated into the state folder), Host and Origin checked on every
loopback address; no token only with TTAI_MCP_TOKEN=off on the exact loopback hosts."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from temporalio.client import Client as TemporalClient

from tests.helpers.mcp import INITIALIZE, SERVER_SCRIPT, clean_environment
from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT
from ttai.loopback import free_port, port_free

TOKEN = "test-token-0123456789abcdef"
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def http_environment(client: TemporalClient, database_url: str, tmp_path: Path) -> dict[str, str]:
    """Connect-only: a running cluster named by TEMPORAL_ADDRESS, and its database."""
    env = clean_environment()
    env["TEMPORAL_ADDRESS"] = client.service_client.config.target_host
    env["DATABASE_URL"] = database_url
    env["TTAI_STATE_DIR"] = str(tmp_path / "state")
    return env


@contextlib.asynccontextmanager
async def http_server(env: dict[str, str], address: str) -> AsyncIterator[str]:
    """The server on `address`; yields its URL once it listens; SIGTERM after."""
    host, _, port_text = address.rpartition(":")
    host, port = host or "127.0.0.1", int(port_text)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER_SCRIPT), "--http", address,
        cwd=PROJECT_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await eventually(
            lambda: not port_free(port, host) or process.returncode is not None, what="listen"
        )
        assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
        yield f"http://{host}:{port}/mcp"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        assert out == b"", out  # nothing but the protocol, and HTTP has none on stdout
        assert process.returncode == 0, err


async def test_a_token_is_required_when_one_is_set(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    env = http_environment(client, database_url, tmp_path) | {"TTAI_MCP_TOKEN": TOKEN}
    async with http_server(env, f"127.0.0.1:{free_port()}") as url:
        async with httpx2.AsyncClient() as http:
            missing = await http.post(url, json=INITIALIZE, headers=HEADERS)
            wrong = await http.post(
                url, json=INITIALIZE, headers=HEADERS | {"authorization": "Bearer nope"}
            )
        assert missing.status_code == 401 and wrong.status_code == 401
        assert "Bearer" in missing.headers["www-authenticate"]

        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy") as mcp,
        ):
            tools = {tool.name for tool in (await mcp.list_tools()).tools}
            assert "analyze_symbol" in tools
            status = await mcp.read_resource("ttai://server")
            assert status.contents


async def test_loopback_needs_the_token_generated_into_the_state_folder(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    env = http_environment(client, database_url, tmp_path)
    async with http_server(env, str(free_port())) as url:  # PORT alone: 127.0.0.1
        token_file = tmp_path / "state" / "mcp-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        async with httpx2.AsyncClient() as http:
            missing = await http.post(url, json=INITIALIZE, headers=HEADERS)
            given = await http.post(
                url, json=INITIALIZE, headers=HEADERS | {"authorization": f"Bearer {token}"}
            )
        assert missing.status_code == 401
        assert given.status_code == 200


async def test_other_loopback_addresses_need_the_token_and_check_the_host(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    """127.0.0.2 is loopback too, but outside the SDK's own Host/Origin defaults: a
    page on a rebinding name once drove every tool through it, with no token."""
    env = http_environment(client, database_url, tmp_path)
    async with http_server(env, f"127.0.0.2:{free_port('127.0.0.2')}") as url:
        rebound = {"host": "rebind.attacker.example"}
        async with httpx2.AsyncClient() as http:
            anonymous = await http.post(url, json=INITIALIZE, headers=HEADERS | rebound)
            assert anonymous.status_code == 401
            token = (tmp_path / "state" / "mcp-token").read_text().strip()
            authorized = HEADERS | {"authorization": f"Bearer {token}"}
            with_token = await http.post(url, json=INITIALIZE, headers=authorized | rebound)
            page = {"origin": "http://rebind.attacker.example"}
            from_page = await http.post(url, json=INITIALIZE, headers=authorized | page)
            own = await http.post(url, json=INITIALIZE, headers=authorized)
        assert with_token.status_code == 421
        assert from_page.status_code == 403
        assert own.status_code == 200


async def test_off_serves_without_a_token_on_the_exact_loopback_hosts_only(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    env = http_environment(client, database_url, tmp_path) | {"TTAI_MCP_TOKEN": "off"}
    async with http_server(env, str(free_port())) as url:
        async with httpx2.AsyncClient() as http:
            open_ = await http.post(url, json=INITIALIZE, headers=HEADERS)
            rebound = await http.post(
                url, json=INITIALIZE, headers=HEADERS | {"host": "rebind.attacker.example"}
            )
        assert open_.status_code == 200
        assert rebound.status_code == 421
    assert not (tmp_path / "state" / "mcp-token").exists()
    for host in ("127.0.0.2", "0.0.0.0"):
        out, err, code = await refused_start(env, f"{host}:{free_port()}")
        assert code == 2 and out == b""
        assert f"refusing to serve on {host} without a token" in err, err


async def refused_start(env: dict[str, str], address: str) -> tuple[bytes, str, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER_SCRIPT), "--http", address,
        cwd=PROJECT_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return out, lines[0], process.returncode or 0


async def test_a_short_token_refuses_to_start(tmp_path: Path) -> None:
    env = clean_environment() | {
        "TTAI_STATE_DIR": str(tmp_path / "state"),
        "TTAI_MCP_TOKEN": "short",
    }
    out, line, code = await refused_start(env, f"0.0.0.0:{free_port()}")
    assert code == 2 and out == b""
    assert "TTAI_MCP_TOKEN is too short" in line
