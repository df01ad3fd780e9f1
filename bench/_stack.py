"""The private stack every benchmark runs on: as `make run` has it (durable
PostgreSQL, dev server persisted in SQLite with WAL), on free ports in a
temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from ttai.loopback import free_port
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.client import data_converter


@asynccontextmanager
async def bench_stack(
    dynamic_config: Mapping[str, object] | None = None,
) -> AsyncIterator[tuple[str, Client]]:
    """Yields the database DSN and a client on the dev server."""
    with tempfile.TemporaryDirectory(prefix="ttai-bench-") as tmp:
        state = Path(tmp)
        async with (
            PrivatePostgres(state, port=free_port(), port_env_var=None) as postgres,
            TemporalDevServer(
                log_path=state / "temporal.log",
                port=free_port(),
                db_file=state / "temporal.db",
                dynamic_config=dynamic_config,
                port_env_var=None,
            ) as server,
        ):
            client = await Client.connect(server.address, data_converter=data_converter())
            yield postgres.dsn, client
