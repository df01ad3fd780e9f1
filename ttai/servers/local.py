"""Everything `make run` needs before a worker: the local stack as one context manager.

`local_stack(settings)` starts, in order, and stops in reverse:
1. PostgreSQL: `DATABASE_URL` when set, else the private cluster under the
   state folder (migrations are applied later, by `open_services`);
2. the codec server, when payload encryption is configured, so the Web UI
   can show payloads in clear;
3. the Temporal dev server with its Web UI, unless `TEMPORAL_ADDRESS` (or a
   profile) points at a cluster.

It needs no workflow or activity: the main job (`python worker.py --local`)
adds the worker around it, and a front end such as an MCP server can bring up
the same stack when none is running.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ttai.config import Settings
from ttai.servers import StackError
from ttai.servers.files import ensure_state_dir
from ttai.servers.postgres import local_database
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.codec_server import codec_server_if_encrypted


@dataclass(frozen=True)
class LocalStack:
    database_url: str
    # The dev server's Web UI; None when Temporal is a remote cluster.
    ui_url: str | None


@contextlib.asynccontextmanager
async def local_stack(settings: Settings) -> AsyncIterator[LocalStack]:
    """The running stack; everything it started is stopped on exit, also on errors."""
    ensure_state_dir(settings.state_dir)  # 0700: histories and passwords live there
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(local_database(settings))
        try:
            ui_codec = await stack.enter_async_context(codec_server_if_encrypted(settings))
        except RuntimeError as err:  # taken port, missing or short token
            raise StackError(str(err)) from None
        ui_url = None
        if not settings.use_remote_temporal:
            server = TemporalDevServer.from_settings(settings, ui_codec_endpoint=ui_codec)
            await stack.enter_async_context(server)
            ui_url = server.ui_url
        yield LocalStack(database_url=database_url, ui_url=ui_url)
