"""A stack for the ops layer's tests: a dev server of the test's own (the
monitors use their fixed IDs), a worker with real services (PostgreSQL, the
simulated market and its seeded paper account) and a `Connection` on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client

from ttai.config import Settings
from ttai.ops.connection import Connection
from ttai.services import Services, open_services
from ttai.temporal.client import data_converter
from worker import build_worker


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
