"""`mcp_server.py --http`: loopback by default, a bearer token required elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import signal
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
    port = int(address.rsplit(":", 1)[-1])
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER_SCRIPT), "--http", address,
        cwd=PROJECT_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await eventually(
            lambda: not port_free(port) or process.returncode is not None, what="listen"
        )
        assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}/mcp"
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


async def test_loopback_without_a_token_is_open(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    env = http_environment(client, database_url, tmp_path)
    async with http_server(env, str(free_port())) as url:  # PORT alone: 127.0.0.1
        async with httpx2.AsyncClient() as http:
            answer = await http.post(url, json=INITIALIZE, headers=HEADERS)
        assert answer.status_code == 200


async def test_any_other_host_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = clean_environment() | {"TTAI_STATE_DIR": str(tmp_path / "state")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER_SCRIPT), "--http", f"0.0.0.0:{free_port()}",
        cwd=PROJECT_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "refusing to serve on 0.0.0.0" in lines[0] and "TTAI_MCP_TOKEN" in lines[0]
