"""Temporal or PostgreSQL goes away mid-call: a clear error, the server stays up,
and it works again once they are back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from mcp import Client

from mcp_server import build_server
from tests.helpers.mcp import eventually
from tests.helpers.temporal import headless_dev_server
from ttai.config import Settings
from ttai.db.migrate import migrate
from ttai.mcp.stack import Stack
from ttai.stack.ports import free_port
from ttai.stack.postgres import PrivatePostgres


def error_line(result: object) -> str:
    assert result.is_error, result  # type: ignore[attr-defined]
    text = result.content[0].text  # type: ignore[attr-defined]
    assert "\n" not in text and "Traceback" not in text
    return text


async def test_temporal_going_away_mid_call_is_a_clear_error_and_recovers(
    tmp_path: Path, database_url: str
) -> None:
    temporal = headless_dev_server(tmp_path)
    await temporal.start()
    try:
        settings = Settings(
            temporal_address=temporal.address,
            database_url=database_url,
            task_queue="no-worker-here",  # the analysis waits: the call is mid-way
            state_dir=tmp_path / "state",
        )
        server = build_server(settings, make_stack=lambda s: Stack(s, may_start=False))
        async with Client(server) as client:
            waiting = asyncio.ensure_future(client.call_tool("analyze_symbol", {"symbol": "AAPL"}))
            status = server.apps[-1].stack  # type: ignore[attr-defined]
            await eventually(lambda: status.status().state == "ready", "the connection")
            await asyncio.sleep(0.5)  # let the call start its workflow and wait on it
            await temporal.stop()

            line = error_line(await asyncio.wait_for(waiting, 120))
            assert line.startswith("analyze_symbol: ") and "not reachable" in line, line

            # The server is still up and says why, at once.
            again = error_line(await client.call_tool("analyze_symbol", {"symbol": "KO"}))
            assert "not reachable" in again, again
            assert (await client.read_resource("ttai://server")).contents != []

            await temporal.start()  # back, on the same port

            async def works() -> bool:
                result = await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
                return not result.is_error

            await eventually(works, "the server to work again")
    finally:
        await temporal.stop()


async def test_postgres_going_away_is_a_clear_error_and_recovers(
    tmp_path: Path, client: object
) -> None:
    cluster = PrivatePostgres(tmp_path / "pg", port=free_port(), port_env_var=None, durable=False)
    await cluster.start()
    try:
        conn = await asyncpg.connect(cluster.dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        settings = Settings(
            temporal_address=client.service_client.config.target_host,  # type: ignore[attr-defined]
            database_url=cluster.dsn,
            state_dir=tmp_path / "state",
        )
        server = build_server(settings, make_stack=lambda s: Stack(s, may_start=False))
        async with Client(server) as mcp:
            assert (await mcp.read_resource("ttai://notifications")).contents
            bridge = server.apps[-1].bridge  # type: ignore[attr-defined]
            await asyncio.wait_for(bridge.listening.wait(), 60)

            await cluster.stop()
            try:
                await mcp.read_resource("ttai://notifications", cache_mode="bypass")
            except Exception as err:  # a JSON-RPC error for a resource
                message = str(err)
            else:
                raise AssertionError("read a resource from a stopped database")
            assert "PostgreSQL is not reachable" in message and "\n" not in message, message

            await cluster.start()
            await eventually(
                lambda: _readable(mcp), "the notifications to be readable again", limit=60
            )
            await asyncio.wait_for(bridge.listening.wait(), 60)  # LISTENing again
    finally:
        await cluster.destroy()


async def _readable(mcp: Client) -> bool:
    try:
        await mcp.read_resource("ttai://notifications", cache_mode="bypass")
    except Exception:
        return False
    return True
