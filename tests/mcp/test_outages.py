"""Temporal or PostgreSQL goes away mid-call: a clear error, the server stays up,
and it works again once they are back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg
from mcp import Client
from temporalio.client import Client as TemporalClient

from mcp_server import build_server
from tests.helpers.temporal import headless_dev_server
from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.db.migrate import migrate
from ttai.loopback import free_port
from ttai.mcp.stack import Stack
from ttai.servers.postgres import PrivatePostgres
from ttai.services import open_services
from worker import build_worker


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
            await eventually(lambda: status.status().state == "ready", what="the connection")
            # Temporal goes away once the call has started its workflow and waits on it.
            observer = await TemporalClient.connect(temporal.address)
            await eventually(
                lambda: observer.count_workflows("WorkflowType = 'AnalysisWorkflow'"),
                what="the call's analysis to start",
                until=lambda counted: counted.count == 1,
            )
            await temporal.stop()

            line = error_line(await asyncio.wait_for(waiting, 120))
            assert line.startswith("analyze_symbol: Temporal "), line  # did not answer

            # The server is still up and says why, at once.
            again = error_line(await client.call_tool("analyze_symbol", {"symbol": "KO"}))
            assert "not reachable" in again, again
            assert (await client.read_resource("ttai://server")).contents != []

            await temporal.start()  # back, on the same port

            async def works() -> bool:
                result = await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
                return not result.is_error

            await eventually(works, what="the server to work again")
    finally:
        await temporal.stop()


async def test_postgres_going_away_is_a_clear_error_and_recovers(
    tmp_path: Path, client: TemporalClient, task_queue: str
) -> None:
    """The worker's database (and the server's LISTEN connection) goes away and comes back."""
    cluster = PrivatePostgres(tmp_path / "pg", port=free_port(), port_env_var=None, durable=False)
    await cluster.start()
    try:
        conn = await asyncpg.connect(cluster.dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        settings = Settings(
            temporal_address=client.service_client.config.target_host,
            database_url=cluster.dsn,
            task_queue=task_queue,
            state_dir=tmp_path / "state",
        )
        server = build_server(settings, make_stack=lambda s: Stack(s, may_start=False))
        async with (
            open_services(settings, cluster.dsn) as services,
            build_worker(client, services, task_queue, graceful_shutdown_timeout=timedelta(0)),
            Client(server) as mcp,
        ):
            assert not (await mcp.call_tool("portfolio", {})).is_error
            bridge = server.apps[-1].bridge  # type: ignore[attr-defined]
            await asyncio.wait_for(bridge.listening.wait(), 60)

            await cluster.stop()
            line = error_line(await mcp.call_tool("portfolio", {}))
            assert line.startswith("portfolio: "), line
            assert (await mcp.read_resource("ttai://server")).contents  # still up

            await cluster.start()

            async def works() -> bool:
                return not (await mcp.call_tool("portfolio", {})).is_error

            await eventually(works, what="the portfolio to be readable again")
            await asyncio.wait_for(bridge.listening.wait(), 60)  # LISTENing again
    finally:
        await cluster.destroy()
