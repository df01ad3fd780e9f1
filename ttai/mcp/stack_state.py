"""What the tools see of the stack: its state and status, and a wait for its connection.

`Stack` (ttai.mcp.stack) drives these states as it finds, starts or loses the
stack; tools, resources and the LISTEN bridge only read them and wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ttai.config import Settings
from ttai.mcp.stack_process import OwnedStack
from ttai.ops.connection import Connection

if TYPE_CHECKING:
    from temporalio.client import Client

logger = logging.getLogger("ttai.mcp.stack")

# WAIT_FOR: the MCP server's timeouts are `asyncio.timeout`, never `asyncio.wait_for`:
# on Python 3.11 `wait_for` swallows a cancellation that arrives as its awaitable
# completes (the event set, a notification queued), so a loop around it goes on
# after `Task.cancel()` and the server's close waits for it forever.

StackState = Literal["connecting", "starting", "waiting", "ready", "down", "stopped"]


class StackUnavailable(Exception):
    """The stack is not there and will not be soon: one line for the caller."""


class StackStatus(BaseModel):
    """Where this MCP server's Temporal stack is and who runs it."""

    state: StackState = Field(
        description="connecting: looking for it; starting: this server is bringing up the "
        "local stack; waiting: another server is; ready: usable; down: not reachable "
        "(retried); stopped: the server is closing."
    )
    owner: bool = Field(description="True when this server started the stack and stops it.")
    temporal_address: str
    namespace: str
    task_queue: str
    ui_url: str | None = Field(default=None, description="The Temporal Web UI, when known.")
    detail: str | None = Field(default=None, description="Why it is not ready, when it is not.")
    server_pid: int
    stack_pid: int | None = Field(
        default=None, description="The local stack's process, when this server owns it."
    )


class StackView:
    """The stack's state as tools see it; `Stack` is the one that changes it."""

    def __init__(self, settings: Settings, *, start_timeout: float) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self._state: StackState = "connecting"
        self._detail: str | None = None
        self._ui_url: str | None = None
        self._connection: Connection | None = None
        self._child: OwnedStack | None = None
        self._changed = asyncio.Event()  # replaced by a fresh one at every change
        self._kick = asyncio.Event()
        self._failures = 0  # completed attempts that ended "down"
        self._listeners: list[Callable[[StackStatus], Awaitable[None]]] = []

    @property
    def database_url(self) -> str | None:
        """The project's database, for LISTEN: DATABASE_URL, else the local stack's
        private cluster; None when Temporal is a remote cluster and DATABASE_URL is unset."""
        if self.settings.database_url:
            return self.settings.database_url
        if self.settings.use_remote_temporal:
            return None
        from ttai.servers.postgres import database_url

        return database_url(self.settings)

    @property
    def owner(self) -> bool:
        return self._child is not None and self._child.running

    def status(self) -> StackStatus:
        return StackStatus(
            state=self._state,
            owner=self.owner,
            temporal_address=self.settings.temporal_address,
            namespace=self.settings.namespace,
            task_queue=self.settings.task_queue,
            ui_url=self._ui_url,
            detail=self._detail,
            server_pid=os.getpid(),
            stack_pid=self._child.pid if self.owner and self._child else None,
        )

    def on_change(self, listener: Callable[[StackStatus], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def connection(
        self,
        *,
        wait_seconds: float | None = None,
        on_wait: Callable[[str], Awaitable[None]] | None = None,
    ) -> Connection:
        """The connection, waiting while the stack is found or started.

        Raises `StackUnavailable` with the reason once an attempt made after
        this call began has failed, or after `wait_seconds` (default: `start_timeout`).
        """
        if self._state == "ready" and self._connection is not None:
            return self._connection
        if self._state == "stopped":
            raise StackUnavailable("the server is shutting down")
        failures_before = self._failures
        self.trouble()  # when down, try again now rather than after the back-off
        limit = self.start_timeout if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + limit
        told: str | None = None
        while True:
            changed = self._changed
            if self._state == "ready" and self._connection is not None:
                return self._connection
            if self._state == "stopped":
                raise StackUnavailable("the server is shutting down")
            if self._state == "down" and self._failures > failures_before:
                raise StackUnavailable(self._detail or "the TTAI stack is not reachable")
            if on_wait is not None and self._state in ("starting", "waiting"):
                message = self._waiting_message()
                if message != told:
                    told = message
                    await on_wait(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackUnavailable(
                    f"the TTAI stack is not ready after {limit:.0f} s "
                    f"({self._state}: {self._detail or 'no detail'})"
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # see WAIT_FOR above
                    await changed.wait()

    def trouble(self) -> None:
        """Something failed to reach the stack: check it now instead of at the next interval."""
        self._kick.set()

    def _waiting_message(self) -> str:
        if self._state == "starting":
            return "starting the local TTAI stack (PostgreSQL, Temporal, the worker)"
        return "waiting for the local TTAI stack another TTAI MCP server is starting"

    # --- changes, made by Stack --------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or less when `trouble()` is called."""
        self._kick.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # see WAIT_FOR above
                await self._kick.wait()

    async def _ready(self, client: Client) -> None:
        self._connection = Connection(self.settings, client=client)
        await self._set("ready", None)

    async def _down(self, detail: str) -> None:
        self._failures += 1
        await self._set("down", detail)

    async def _set(self, state: StackState, detail: str | None) -> None:
        if self._state == "stopped" and state != "stopped":
            return
        changed = (state, detail) != (self._state, self._detail)
        self._state, self._detail = state, detail
        if changed:
            log = logger.warning if state == "down" else logger.info
            log("stack %s%s", state, f": {detail}" if detail else "")
        self._changed.set()
        self._changed = asyncio.Event()
        if changed:
            status = self.status()
            for listener in self._listeners:
                try:
                    await listener(status)
                except Exception:
                    logger.exception("stack listener failed")
