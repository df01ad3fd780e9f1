"""A stack for the ops layer's tests: a dev server of the test's own (the
monitors use their fixed IDs), a worker with real services (PostgreSQL, the
simulated market and its seeded paper account) and a `Connection` on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client

from ttai.config import Settings
from ttai.ops.connection import Connection
from ttai.services import Services, open_services
from ttai.temporal.client import data_converter
from worker import build_worker

T = TypeVar("T")


@dataclass
class OpsStack:
    conn: Connection
    client: Client
    services: Services
    address: str
    task_queue: str


@asynccontextmanager
async def running_ops_stack(
    address: str,
    database_url: str,
    task_queue: str,
    *,
    command_timeout: timedelta = timedelta(seconds=60),
) -> AsyncIterator[OpsStack]:
    client = await Client.connect(address, data_converter=data_converter())
    settings = Settings(temporal_address=address, task_queue=task_queue)
    async with (
        open_services(settings.model_copy(update={"database_url": database_url}), database_url)
        as services,
        build_worker(client, services, task_queue),
    ):  # fmt: skip
        conn = Connection(settings, command_timeout=command_timeout)
        yield OpsStack(conn, client, services, address, task_queue)


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, limit: float = 120) -> T:
    """Poll `check` until it returns something truthy; the limit only bounds a hang."""
    deadline = time.monotonic() + limit
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)
