"""`App`: what stands behind every call of one connection (stdio) or one process (HTTP).

It holds the `Stack` (where Temporal is, or the local stack this server
owns) and the `NotificationBridge`, and boots them in the background:

1. (stdio) wait for the client's first message after `initialize`, so
   nothing competes with answering the handshake;
2. load the project's structured logging (ttai.telemetry) in a thread;
3. declare the tools, resources and prompts (ttai.mcp.tools: the ops layer
   and the workflow models) in a thread; requests that need them wait;
4. start looking for the stack, and the LISTEN bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import Context

from ttai.mcp import logs
from ttai.mcp.bridge import NotificationBridge
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import Stack
from ttai.ops.connection import Connection

logger = logging.getLogger("ttai.mcp")

SERVER_URI = "ttai://server"


@dataclass
class App:
    server: TtaiServer
    stack: Stack
    bridge: NotificationBridge = field(init=False)
    _boot: asyncio.Task[None] | None = None
    _handshake_done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.bridge = NotificationBridge(self.stack, self.server.publish)

    async def start(self, *, after_handshake: bool) -> None:
        """Returns at once: the handshake never waits for the stack.

        `after_handshake`: begin once the client's first message after
        `initialize` arrives (stdio); else at once (HTTP, where the app starts
        before any client connects).
        """
        if not after_handshake:
            self._handshake_done.set()
        self._boot = asyncio.create_task(self._boot_up(), name="ttai-boot")

    def message_arriving(self, method: str) -> None:
        """Every inbound message, before it is handled (the server's middleware)."""
        if method != "initialize":
            self._handshake_done.set()

    async def _boot_up(self) -> None:
        await self._handshake_done.wait()
        try:
            await asyncio.to_thread(logs.configure)
            await self.server.declare()
            await asyncio.to_thread(_warm_imports)
        except Exception:
            logger.exception("the server could not finish starting")
            return
        self.stack.on_change(lambda _status: self.server.publish([SERVER_URI]))
        self.stack.start()
        self.bridge.start()

    async def connection(self, ctx: Context[Any, Any] | None = None) -> Connection:
        """The stack's connection; while the stack starts, the caller hears why it waits."""

        async def tell(message: str) -> None:
            if ctx is not None:
                await ctx.report_progress(0, None, message)

        return await self.stack.connection(on_wait=tell)

    async def stop(self) -> None:
        """Stop the bridge and the stack (the owned stack included); cancel-proof."""
        with anyio.CancelScope(shield=True):
            if self._boot is not None and not self._boot.done():
                self._boot.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._boot
            await self.bridge.stop()
            await self.stack.stop()


def _warm_imports() -> None:
    """What the stack and the bridge import first, loaded off the event loop."""
    import asyncpg  # noqa: F401
    import temporalio.client  # noqa: F401

    import ttai.servers.postgres
    import ttai.temporal.client  # noqa: F401


def app_of(ctx: Context[Any, Any]) -> App:
    """The App of the connection a tool call came in on."""
    return ctx.request_context.lifespan_context


async def connection(ctx: Context[Any, Any]) -> Any:
    """The ops connection, once the stack is up (the call waits for it)."""
    return await app_of(ctx).connection(ctx)
