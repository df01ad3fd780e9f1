"""Where the TTAI stack is, and bringing up the local one when nothing answers.

`Stack` runs in the background from the moment the server starts; tools ask it
for the ops layer's `Connection` (ttai.ops.connection, on the client it made)
and wait while the stack is being found or started. `initialize` never waits
for it.

What it does, in a loop:
1. Connect to the configured Temporal address. If it answers (`make run`, a
   cluster named by `TEMPORAL_ADDRESS`, or another MCP server's stack), use it
   ("connected") and check its health every `health_interval` seconds.
2. If nothing answers and the address is the local default (no
   `TEMPORAL_ADDRESS` / profile), take the stack lock, `<state>/mcp-stack.lock`,
   and bring up the same local stack `make run` does, in a child process:
   `python worker.py --local --no-demo --ready-fd N` (ttai.mcp.stack_process).
   This server is then the stack's "owner".
3. If the lock is taken, another MCP server is starting (or stopping) the
   stack: wait, and connect once it answers ("waiting").
4. If the stack goes away (its owner closed), go round again: the first
   server to take the lock brings it up again; the others connect to it.

Two servers at once: see ttai.mcp.stack_lock (the lock, held until the stack
has stopped) and ttai.mcp.stack_process (the owned stack as a child process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ttai.config import Settings
from ttai.mcp.stack_lock import connect_client, one_line, try_lock
from ttai.mcp.stack_process import OwnedStack, stack_log_path
from ttai.mcp.stack_state import StackView
from ttai.servers import StackError

if TYPE_CHECKING:
    from temporalio.client import Client

logger = logging.getLogger("ttai.mcp.stack")

STABLE_SECONDS = 60  # an owned stack that ran this long is restarted without back-off


class Stack(StackView):
    """Finds the stack, or brings up and owns the local one; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        may_start: bool | None = None,
        health_interval: float = 1.0,
        start_timeout: float = 180.0,
        stop_timeout: float = 1.5,
        connect: Callable[[Settings], Awaitable[Client]] | None = None,
        child_command: list[str] | None = None,
    ) -> None:
        super().__init__(settings, start_timeout=start_timeout)
        # Only the local default address may be brought up here.
        self.may_start = not settings.use_remote_temporal if may_start is None else may_start
        self.health_interval = health_interval
        self.stop_timeout = stop_timeout
        self._connect = connect or connect_client
        self._child_command = child_command
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None

    @property
    def log_path(self) -> Path:
        """Where an owned stack's output goes."""
        return stack_log_path(self.settings)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ttai-stack")

    async def stop(self) -> None:
        """Stop looking; stop the stack if this server owns it. Idempotent, cancel-proof."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        await self._set("stopped", "the server is shutting down")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._child is not None:
            await self._child.stop()

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._loop()
            except Exception as err:  # a bug must not end the search for the stack silently
                logger.exception("the stack keeper failed; starting over")
                await self._down(f"internal error: {one_line(err)}")
                await self._sleep(5)

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                client = await self._connect(self.settings)
            except Exception as err:
                reason = one_line(err)
            else:
                backoff = 0.5
                await self._ready(client)
                await self._watch_health(client)
                continue
            if not self.may_start:
                await self._down(
                    f"Temporal at {self.settings.temporal_address} is not reachable ({reason}); "
                    "is the cluster up and TEMPORAL_ADDRESS right?"
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            try:
                lock = try_lock(self.settings)
            except (StackError, OSError) as err:  # an unusable state folder
                await self._down(f"the local TTAI stack cannot start: {one_line(err)}")
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if lock is None:
                await self._set("waiting", "another TTAI MCP server holds the stack lock")
                await self._sleep(0.5)
                continue
            began = time.monotonic()
            try:
                await self._own(lock)
            except (StackError, OSError) as err:
                await self._down(f"the local TTAI stack did not start: {one_line(err)}")
            if time.monotonic() - began > STABLE_SECONDS:
                backoff = 0.5  # it ran a good while: try again at once
            await self._sleep(backoff)
            backoff = min(backoff * 2, 30)

    async def _own(self, lock: int) -> None:
        """Bring up the local stack as a child process; return when it has stopped."""
        await self._set("starting", "bringing up the local stack")
        child = OwnedStack(
            self.settings,
            command=self._child_command,
            start_timeout=self.start_timeout,
            stop_timeout=self.stop_timeout,
        )
        self._child = child
        message = await child.start(lock)
        client = None
        if message.get("ready"):
            self._ui_url = message.get("ui_url")
            try:
                client = await self._connect(self.settings)
            except Exception as err:
                message = {"error": f"its Temporal server does not answer: {one_line(err)}"}
        if client is None:
            code = await child.terminate()
            error = message.get("error") or f"it exited with code {code} (see {self.log_path})"
            await self._down(f"the local TTAI stack did not start: {error}")
            return
        logger.info(
            "local stack ready (pid %s), Web UI %s, its log %s",
            child.pid,
            self._ui_url,
            self.log_path,
        )
        await self._ready(client)
        code = await child.wait()
        await self._down(f"the local TTAI stack stopped (exit code {code}); restarting it")

    async def _watch_health(self, client: Client) -> None:
        """Return once Temporal stops answering (two failed checks in a row)."""
        failed = 0
        while failed < 2:
            await self._sleep(self.health_interval)
            try:
                await client.service_client.check_health(timeout=timedelta(seconds=2))
            except Exception as err:
                failed += 1
                logger.info("Temporal health check failed: %s", one_line(err))
            else:
                failed = 0
        await self._down(f"Temporal at {self.settings.temporal_address} stopped answering")
