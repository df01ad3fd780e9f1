"""`python mcp_server.py` spawned exactly as a host does, over stdio (handshake era).

- No stack running: the server answers `initialize` at once, brings up the
  local stack (PostgreSQL, Temporal, the worker, monitors, schedules) while the
  first tool call waits, and stops all of it when the host closes: no process
  left, every port free.
- Two servers at once: one owns the stack, the other connects to it, and
  takes it over when the owner goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mcp_types as mt
from mcp import Client

from tests.helpers.mcp import (
    alive,
    eventually,
    local_stack_environment,
    port_free,
    stack_pids,
    stack_ports,
    stdio_server,
)

CALL_TIMEOUT = 300  # the first call waits for the whole stack to start


async def server_status(client: Client) -> dict[str, Any]:
    contents = (await client.read_resource("ttai://server", cache_mode="bypass")).contents[0]
    assert isinstance(contents, mt.TextResourceContents)
    return json.loads(contents.text)


async def test_no_stack_running_brings_it_up_and_stops_it_when_the_host_closes(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    env = local_stack_environment(state)
    ports = stack_ports(env)
    assert all(port_free(port) for port in ports)

    async with Client(
        stdio_server(env), mode="legacy", read_timeout_seconds=CALL_TIMEOUT
    ) as client:
        # `initialize` was answered before the stack was up.
        assert (await server_status(client))["state"] in ("connecting", "starting")
        waiting: list[str | None] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            waiting.append(message)

        result = await client.call_tool(
            "analyze_symbol", {"symbol": "AAPL"}, progress_callback=on_progress
        )
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert result.structured_content["result"]["symbol"] == "AAPL"
        assert any("starting the local TTAI stack" in (m or "") for m in waiting), waiting

        status = await server_status(client)
        assert status["state"] == "ready" and status["owner"] is True
        assert status["ui_url"] == f"http://127.0.0.1:{env['TTAI_UI_PORT']}"
        processes = stack_pids(state) | {
            "stack": status["stack_pid"],
            "server": status["server_pid"],
        }
        assert set(processes) == {"temporal", "postgres", "stack", "server"}
        assert not any(port_free(port) for port in ports)  # all three listen

    # The host closed stdin: the stack stops in order, nothing is left behind.
    await eventually(lambda: not alive(processes), f"{processes} to exit")
    await eventually(lambda: all(port_free(port) for port in ports), "the ports to be free")
    log = (state / "mcp-stack.log").read_text()
    assert "stopped cleanly" in log, log


class Host:
    """One host running one server in its own task (sessions close in any order)."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._close = asyncio.Event()
        self._ready = asyncio.Event()
        self.client: Client | None = None
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async with Client(
            stdio_server(self._env), mode="legacy", read_timeout_seconds=CALL_TIMEOUT
        ) as client:
            self.client = client
            self._ready.set()
            await self._close.wait()

    async def __aenter__(self) -> Client:
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait([ready, self._task], return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self._task  # raises what went wrong
        assert self.client is not None
        return self.client

    async def close(self) -> None:
        self._close.set()
        await self._task

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def two_hosts(env: dict[str, str]) -> AsyncIterator[tuple[Host, Host]]:
    first, second = Host(env), Host(env)
    try:
        await asyncio.gather(first.__aenter__(), second.__aenter__())
        yield first, second
    finally:
        for host in (first, second):
            with contextlib.suppress(Exception):
                await host.close()


async def test_two_servers_at_once_share_one_stack_and_the_survivor_takes_it_over(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    env = local_stack_environment(state)
    ports = stack_ports(env)
    async with two_hosts(env) as hosts:
        clients = [host.client for host in hosts]
        assert clients[0] is not None and clients[1] is not None
        results = await asyncio.gather(
            *(c.call_tool("analyze_symbol", {"symbol": "KO", "wait": False}) for c in clients)
        )
        for result in results:
            assert not result.is_error, result.content
        statuses = [await server_status(c) for c in clients]
        assert [s["state"] for s in statuses] == ["ready", "ready"]
        owners = [s["owner"] for s in statuses]
        assert sorted(owners) == [False, True], statuses  # one stack, one owner
        owner = owners.index(True)
        survivor = clients[1 - owner]
        first_stack = statuses[owner]["stack_pid"]
        first_processes = stack_pids(state) | {"stack": first_stack}

        await hosts[owner].close()
        # The owner's stack stops; the survivor brings up its own and carries on.
        await eventually(lambda: not alive(first_processes), "the first stack to stop")

        async def survivor_owns() -> bool:
            status = await server_status(survivor)
            return status["state"] == "ready" and status["owner"] is True

        await eventually(survivor_owns, "the survivor to take the stack over", limit=300)
        result = await survivor.call_tool("analyze_symbol", {"symbol": "JPM"})
        assert not result.is_error, result.content
        second_processes = stack_pids(state) | {
            "stack": (await server_status(survivor))["stack_pid"]
        }
        assert second_processes["stack"] != first_stack
    await eventually(lambda: not alive(second_processes), "the second stack to stop")
    await eventually(lambda: all(port_free(port) for port in ports), "the ports to be free")


async def test_a_running_stack_is_only_connected_to(tmp_path: Path) -> None:
    """A stack is up (here: another server's): a server started then never owns anything."""
    env = local_stack_environment(tmp_path / "state")
    async with Host(env) as owner_client:
        await owner_client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
        async with Host(env) as client:
            result = await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
            assert not result.is_error, result.content
            status = await server_status(client)
            assert status["owner"] is False and status["stack_pid"] is None
