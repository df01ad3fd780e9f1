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
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mcp_types as mt
from mcp import Client
from temporalio.client import Client as TemporalClient

from tests.helpers.mcp import (
    HANDSHAKE,
    SERVER_SCRIPT,
    alive,
    clean_environment,
    local_stack_environment,
    stack_pids,
    stack_ports,
    stdio_server,
)
from tests.helpers.waiting import eventually
from ttai.loopback import port_free

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
    await eventually(lambda: not alive(processes), what=f"{processes} to exit")
    await eventually(lambda: all(port_free(port) for port in ports), what="the ports to be free")
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
        await eventually(lambda: not alive(first_processes), what="the first stack to stop")

        async def survivor_owns() -> bool:
            status = await server_status(survivor)
            return status["state"] == "ready" and status["owner"] is True

        await eventually(survivor_owns, what="the survivor to take the stack over", within=300)
        result = await survivor.call_tool("analyze_symbol", {"symbol": "JPM"})
        assert not result.is_error, result.content
        second_processes = stack_pids(state) | {
            "stack": (await server_status(survivor))["stack_pid"]
        }
        assert second_processes["stack"] != first_stack
    await eventually(lambda: not alive(second_processes), what="the second stack to stop")
    await eventually(lambda: all(port_free(port) for port in ports), what="the ports to be free")


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


class RawHost:
    """JSON-RPC over the pipes by hand, as a host writes it (handshake era)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[bytes] = []  # every line the server wrote to stdout
        self._next_id = 0

    @classmethod
    async def launch(cls, env: dict[str, str]) -> RawHost:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SERVER_SCRIPT),
            cwd="/",  # hosts start servers anywhere
            env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        host = cls(process)
        answer = await host.request("initialize", HANDSHAKE)
        assert answer["result"]["serverInfo"]["name"] == "ttai"
        await host.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return host

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), CALL_TIMEOUT)
            assert line, "the server closed stdout"
            self.lines.append(line)
            message = json.loads(line)
            if message.get("id") == self._next_id:
                return message

    async def status(self) -> dict[str, Any]:
        answer = await self.request("resources/read", {"uri": "ttai://server"})
        return json.loads(answer["result"]["contents"][0]["text"])

    async def close_stdin(self) -> tuple[bytes, bytes]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        out, err = await asyncio.wait_for(self.process.communicate(), 60)
        self.lines += out.splitlines(keepends=True)
        return out, err


async def test_stdout_carries_only_the_protocol_and_stderr_only_structured_logs(
    client: TemporalClient, database_url: str, tmp_path: Path
) -> None:
    env = clean_environment() | {
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "DATABASE_URL": database_url,
        "TTAI_STATE_DIR": str(tmp_path / "state"),
        "TTAI_LOG_LEVEL": "DEBUG",
    }
    host = await RawHost.launch(env)
    tools = await host.request("tools/list", {})
    assert "analyze_symbol" in {tool["name"] for tool in tools["result"]["tools"]}
    await host.request("prompts/list", {})
    bad = await host.request("tools/call", {"name": "analyze_symbol", "arguments": {"symbol": "?"}})
    assert bad["result"]["isError"] is True
    started = await host.request(
        "tools/call", {"name": "analyze_symbol", "arguments": {"symbol": "KO", "wait": False}}
    )
    assert started["result"].get("isError") is not True, started
    _, err = await host.close_stdin()
    assert host.process.returncode == 0, err
    for line in host.lines:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    logged = [line for line in err.decode().splitlines() if line.strip()]
    assert logged, "nothing logged at DEBUG"
    for line in logged:
        assert line.startswith("ts="), line  # one structured record per line


async def test_sigterm_with_stdin_open_stops_the_owned_stack(tmp_path: Path) -> None:
    """A host that signals instead of closing stdin: the stack still stops in order."""
    state = tmp_path / "state"
    env = local_stack_environment(state)
    ports = stack_ports(env)
    host = await RawHost.launch(env)
    answer = await host.request(
        "tools/call", {"name": "analyze_symbol", "arguments": {"symbol": "KO", "wait": False}}
    )
    assert answer["result"].get("isError") is not True, answer
    status = await host.status()
    assert status["owner"] is True
    processes = stack_pids(state) | {"stack": status["stack_pid"]}
    host.process.send_signal(signal.SIGTERM)
    _, err = await host.close_stdin()
    assert host.process.returncode == 0
    # The stack's own output went to its log; stderr holds only this server's records.
    for line in err.decode().splitlines():
        assert line.startswith("ts="), line
    await eventually(lambda: not alive(processes), what=f"{processes} to exit")
    await eventually(lambda: all(port_free(port) for port in ports), what="the ports to be free")
