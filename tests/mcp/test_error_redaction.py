"""Error text a client sees goes through the log redactor, as a log line does
(issue 22): tool and resource errors, the stack's status, and the ready pipe
the owned stack reports its failure on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.main_job import ReadyPipe
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import Stack
from ttai.telemetry.redaction import register_secret

SECRET = "registered-secret-5b8e1d2c9a"
DSN = "postgresql://ttai_app:url-pass-7d3e2a@db.internal:5432/ttai"


def leaky_server() -> TtaiServer:
    register_secret(SECRET)

    def explain(err: BaseException) -> str | None:
        return f"PostgreSQL is not reachable ({err})"

    server = TtaiServer("ttai-leaks", explain=explain)

    @server.tool()
    def refuses() -> str:
        """A deliberate refusal quoting what it was given."""
        raise ToolError(f"refused: the broker said token={SECRET}")

    @server.tool()
    def breaks() -> str:
        """An unexpected failure, explained from its exception."""
        raise ConnectionError(f"cannot reach {DSN}")

    @server.resource("ttai://leaky")
    def leaky() -> str:
        raise ResourceError(f"not found under {DSN} (key {SECRET})")

    server.declare_now()
    return server


async def test_tool_and_resource_errors_are_redacted() -> None:
    async with Client(leaky_server()) as client:
        for tool in ("refuses", "breaks"):
            result = await client.call_tool(tool, {})
            assert result.is_error
            text = result.content[0].text  # type: ignore[union-attr]
            assert SECRET not in text and "url-pass-7d3e2a" not in text, text
            assert text.startswith(f"{tool}: ")
        with pytest.raises(Exception) as caught:
            await client.read_resource("ttai://leaky")
        assert SECRET not in str(caught.value) and "url-pass-7d3e2a" not in str(caught.value)


async def test_the_stack_status_is_redacted(tmp_path: Path) -> None:
    async def unreachable(settings: Settings) -> Any:
        raise RuntimeError(f"cannot connect through {DSN}")

    stack = Stack(Settings(state_dir=tmp_path), may_start=False, connect=unreachable)
    stack.start()
    try:
        await eventually(lambda: stack.status().state == "down", what="the stack down")
        assert "url-pass-7d3e2a" not in (stack.status().detail or "")
    finally:
        await stack.stop()


def test_the_ready_pipe_is_redacted() -> None:
    register_secret(SECRET)
    read_fd, write_fd = os.pipe()
    ReadyPipe(write_fd).send(error=f"PostgreSQL refused {DSN} with {SECRET}")
    with os.fdopen(read_fd, "rb") as pipe:
        message = json.loads(pipe.readline())
    assert SECRET not in message["error"] and "url-pass-7d3e2a" not in message["error"]
    assert message["error"].startswith("PostgreSQL refused")
