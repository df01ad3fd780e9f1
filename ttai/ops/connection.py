"""The one place a front end gets its Temporal client: settings plus a lazy client.

`starter.py` makes one `Connection` per command, the MCP server one per
process. The client is made on first use, so an operation validates its input
before anything connects (bad input fails at once, even with Temporal down),
and importing the ops layer does not import the Temporal client (about 0.3 s
and 20 MiB). A failed connect is not cached: the next operation tries again,
so the ops work again as soon as Temporal is back. A client that is already
connected reconnects by itself (the SDK retries its RPCs for about 10 s
before an operation reports Temporal unavailable).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from ttai.config import Settings
from ttai.ops.errors import Unavailable

if TYPE_CHECKING:
    from temporalio.client import Client

COMMAND_TIMEOUT = timedelta(seconds=60)
"""Longest a short command workflow (watchlist, notifications, portfolio, latest
reports) may run before the operation says which dependency did not answer."""

UPDATE_TIMEOUT = timedelta(seconds=60)
"""Longest an operation waits for a monitor to accept and finish an update."""


class Connection:
    """Settings and a Temporal client connected on first use."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: Client | None = None,
        command_timeout: timedelta = COMMAND_TIMEOUT,
        update_timeout: timedelta = UPDATE_TIMEOUT,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.command_timeout = command_timeout
        self.update_timeout = update_timeout
        self._client = client
        self._lock = asyncio.Lock()

    @classmethod
    def from_env(cls, *, task_queue: str | None = None) -> Connection:
        """Settings from the environment; `task_queue` overrides TTAI_TASK_QUEUE."""
        settings = Settings.from_env()
        if task_queue:
            settings = settings.model_copy(update={"task_queue": task_queue})
        return cls(settings)

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    async def client(self) -> Client:
        """The client, connecting now if this is the first call (Unavailable if it cannot)."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await _connect(self.settings)
        return self._client


async def _connect(settings: Settings) -> Client:
    from ttai.temporal.client import connect

    try:
        return await connect(settings)
    except (RuntimeError, OSError) as err:
        raise Unavailable(
            f"cannot reach Temporal at {settings.temporal_address}: {err}. "
            "Is the stack up (make run) or TEMPORAL_ADDRESS right?"
        ) from None
