"""Fixtures for the MCP server's tests.

- `backend`: a stack for the server to connect to: its own dev server (the
  monitors use their fixed IDs), a fresh database, and a real worker in this
  process (simulated market) on a unique task queue, with the monitors
  running at all hours. Yields the `Settings` a server would read.
- `mcp`: `mcp_server.build_server(...)` connected to that backend, only
  connecting (it never starts a stack); use it through the SDK's in-memory
  `Client(mcp)`, which runs the server's lifespan per client.
- `session_mcp`: the same over a backend whose simulated market runs from the
  middle of a past session (`SESSION_MARKET`), so its streamed prices move
  whenever the test runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio

from mcp_server import build_server
from tests.helpers.mcp import MONITOR_INPUTS
from tests.helpers.simulated_market import running_from
from ttai.broker.base import Broker
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.config import Settings
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import Stack
from ttai.services import open_services
from ttai.temporal.bootstrap import ensure_monitors
from ttai.temporal.client import connect
from worker import build_worker

WATCHDOG_SECONDS = 200  # before pytest-timeout's 300 s


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def dump_tasks_if_hung() -> AsyncIterator[None]:
    """A test still running after WATCHDOG_SECONDS prints every asyncio task's
    stack: pytest-timeout shows only the threads, which say nothing here."""

    async def watch() -> None:
        await asyncio.sleep(WATCHDOG_SECONDS)
        for task in asyncio.all_tasks():
            print(f"--- {task!r}", file=sys.stderr)
            task.print_stack(file=sys.stderr)

    watchdog = asyncio.ensure_future(watch())
    yield
    watchdog.cancel()


@contextlib.asynccontextmanager
async def running_backend(
    make_dev_server: Callable[..., Awaitable[object]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
    broker: Broker | None = None,
) -> AsyncIterator[Settings]:
    server = await make_dev_server()
    settings = Settings(
        task_queue=task_queue,
        temporal_address=server.address,  # type: ignore[attr-defined]
        database_url=database_url,
        state_dir=tmp_path / "state",
    )
    client = await connect(settings)
    async with (
        open_services(settings, database_url, broker=broker) as services,
        build_worker(client, services, task_queue, graceful_shutdown_timeout=timedelta(seconds=1)),
    ):
        await ensure_monitors(client, settings, inputs=MONITOR_INPUTS)
        yield settings
        for workflow_id in MONITOR_INPUTS:  # stop them before their worker goes
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.get_workflow_handle(workflow_id).terminate(), 5)


@pytest_asyncio.fixture(loop_scope="session")
async def backend(
    make_dev_server: Callable[..., Awaitable[object]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Settings]:
    async with running_backend(make_dev_server, database_url, task_queue, tmp_path) as settings:
        yield settings


@pytest_asyncio.fixture(loop_scope="session")
async def mcp(backend: Settings) -> TtaiServer:
    return build_server(backend, make_stack=lambda s: Stack(s, may_start=False))


SESSION_MARKET = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
"""Friday 4 Dec 2026, 12:00 in New York: the session's market, at the pace of the machine."""


@pytest_asyncio.fixture(loop_scope="session")
async def session_market() -> SimulatedMarket:
    return running_from(SESSION_MARKET)


@pytest_asyncio.fixture(loop_scope="session")
async def session_mcp(
    make_dev_server: Callable[..., Awaitable[object]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
    session_market: SimulatedMarket,
) -> AsyncIterator[TtaiServer]:
    broker = SimulatedBroker(session_market, InMemoryPaperAccount())
    async with running_backend(
        make_dev_server, database_url, task_queue, tmp_path, broker
    ) as settings:
        yield build_server(settings, make_stack=lambda s: Stack(s, may_start=False))
