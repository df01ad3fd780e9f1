"""`TtaiServer`: the SDK's `MCPServer` with one-line errors and pushed resource updates.

One-line errors. Every failure a tool call can have reaches the model as one
readable line with `is_error` set, and never as a traceback:
- arguments that fail the input schema (pydantic's multi-line dump with URLs
  becomes `analyze_symbol: invalid arguments: symbol: invalid symbol ...`);
- a deliberate `ToolError` (the SDK's "Error executing tool X: " prefix goes);
- an exception `explain` recognises (Temporal or PostgreSQL unreachable, a
  failed workflow): its one-line explanation;
- anything else: "<tool>: internal error (see the server's log)", with the
  traceback in the server's log only.

Pushed updates, both protocol generations (docs/mcp.md):
- 2026-07-28 clients `subscriptions/listen` through the SDK's subscription bus;
- handshake-era clients (2025-11-25 and before: what hosts speak today) send
  `resources/subscribe`, which `MCPServer` does not serve: the handlers are
  added on the low-level server, which also makes it advertise
  `resources.subscribe`, and `publish()` pushes to those connections too.
  Only resources this server serves may be subscribed to, at most
  MAX_SUBSCRIPTIONS per connection, and a connection's subscriptions end
  with it (its exit stack): a host that subscribes to anything, or HTTP
  sessions that come and go, never make the server hold more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import mcp_types as mt
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ToolError,
    UnexpectedResourceError,
    UnexpectedToolError,
)
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS
from pydantic import ValidationError

from ttai.mcp.bridge import known_resource
from ttai.telemetry.redaction import Redactor

logger = logging.getLogger("ttai.mcp")

MAX_SUBSCRIPTIONS = 64  # per handshake-era connection

Explain = Callable[[BaseException], str | None]
"""One line for an exception a tool or resource may meet (None: not recognised)."""


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def shown(text: str) -> str:
    """What a client may see of an error: one line, through the log redactor (an
    error can quote a DSN, a token, a URL with a password, as a log line can)."""
    return Redactor().redact(one_line(text))


def validation_line(err: ValidationError) -> str:
    """pydantic's errors as one line: `symbol: invalid symbol 'aapl!' ...; top_n: ...`."""
    parts = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        message = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] in ("missing", "value_error") or e["type"].startswith("literal"):
            got = ""
        else:
            got = f" (got {_short(e.get('input'))})"
        parts.append(f"{where}: {message}{got}")
    return one_line("; ".join(parts))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class TtaiServer(MCPServer):
    """`MCPServer` with one-line tool errors, `publish(uri)` for both protocol eras,
    and tools declared after the handshake.

    `declarations(server)` registers the tools, resources and prompts. It runs
    in a thread on `declare()` (after `initialize` was answered: their modules
    cost more to import than the handshake may take), or at once with
    `declare_now()`; until it has run, requests that list or use them wait.
    """

    def __init__(
        self,
        *args: Any,
        explain: Explain | None = None,
        declarations: Callable[[TtaiServer], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.bus = InMemorySubscriptionBus()
        super().__init__(*args, subscriptions=self.bus, **kwargs)
        self._explain = explain or (lambda _err: None)
        self._declarations = declarations
        self._declared = asyncio.Event()
        self._declaring = asyncio.Lock()
        self._declaration_error: str | None = None
        self.apps: list[Any] = []  # the live App of each connection (ttai.mcp.app)
        # Handshake-era clients' connections -> the URIs each subscribed to.
        self.legacy_subscriptions: dict[Any, set[str]] = {}
        low = self._lowlevel_server  # the public add_request_handler lives on it
        low.add_request_handler("resources/subscribe", mt.SubscribeRequestParams, self._subscribe)
        low.add_request_handler(
            "resources/unsubscribe", mt.UnsubscribeRequestParams, self._unsubscribe
        )

    # --- declarations after the handshake ----------------------------------------------

    def declare_now(self) -> None:
        if not self._declared.is_set():
            if self._declarations is not None:
                self._declarations(self)
            self._declared.set()

    async def declare(self) -> None:
        """Run the declarations in a thread (once; later calls wait for the first)."""
        async with self._declaring:
            if self._declared.is_set():
                return
            try:
                if self._declarations is not None:
                    await asyncio.to_thread(self._declarations, self)
            except Exception as err:
                logger.exception("declaring the tools failed")
                self._declaration_error = one_line(err)
            finally:
                self._declared.set()

    async def _ready(self) -> None:
        await self._declared.wait()
        if self._declaration_error is not None:
            raise MCPError(INTERNAL_ERROR, f"the server failed to start: {self._declaration_error}")

    async def list_tools(self) -> Any:
        await self._ready()
        return await super().list_tools()

    async def list_resources(self) -> Any:
        await self._ready()
        return await super().list_resources()

    async def list_resource_templates(self) -> Any:
        await self._ready()
        return await super().list_resource_templates()

    async def list_prompts(self) -> Any:
        await self._ready()
        return await super().list_prompts()

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[Any, Any] | None = None,
    ) -> Any:
        await self._ready()
        return await super().get_prompt(name, arguments, context)

    # --- errors -----------------------------------------------------------------------

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        await self._ready()
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            cause = exc.__cause__
            explained = self._explain(cause) if cause is not None else None
            if explained is None:
                logger.error("tool %s failed", name, exc_info=cause)
                raise ToolError(f"{name}: internal error (see the server's log)") from None
            raise ToolError(f"{name}: {shown(explained)}") from None
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                detail = validation_line(exc.__cause__)
                raise ToolError(f"{name}: invalid arguments: {shown(detail)}") from None
            text = str(exc).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(f"{name}: {shown(text)}") from None

    async def read_resource(self, uri: Any, context: Context[Any, Any] | None = None) -> Any:
        await self._ready()
        try:
            return await super().read_resource(uri, context)
        except UnexpectedResourceError as exc:
            cause = exc.__cause__
            explained = self._explain(cause) if cause is not None else None
            if explained is None:
                logger.error("resource %s failed", uri, exc_info=cause)
                raise ResourceError(f"{uri}: internal error (see the server's log)") from None
            raise ResourceError(f"{uri}: {shown(explained)}") from None
        except ResourceError as exc:  # what a resource refused with (not found ...)
            raise type(exc)(shown(str(exc))) from None

    # --- pushed updates ----------------------------------------------------------------

    async def _subscribe(self, ctx: Any, params: mt.SubscribeRequestParams) -> mt.EmptyResult:
        uri = str(params.uri)
        if not known_resource(uri):
            raise MCPError(INVALID_PARAMS, f"no resource {one_line(uri)[:100]!r} to subscribe to")
        connection = _connection(ctx)
        uris = self.legacy_subscriptions.get(connection)
        if uris is None:
            uris = self.legacy_subscriptions[connection] = set()
            connection.exit_stack.callback(self.legacy_subscriptions.pop, connection, None)
        if uri not in uris and len(uris) >= MAX_SUBSCRIPTIONS:
            raise MCPError(INVALID_PARAMS, f"at most {MAX_SUBSCRIPTIONS} subscriptions each")
        uris.add(uri)
        return mt.EmptyResult()

    async def _unsubscribe(self, ctx: Any, params: mt.UnsubscribeRequestParams) -> mt.EmptyResult:
        self.legacy_subscriptions.get(_connection(ctx), set()).discard(str(params.uri))
        return mt.EmptyResult()

    async def publish(self, uris: Sequence[str]) -> None:
        """Tell every subscribed client, of either protocol era, that `uris` changed."""
        for uri in dict.fromkeys(uris):
            await self.bus.publish(ResourceUpdated(uri=uri))
            for connection, subscribed in list(self.legacy_subscriptions.items()):
                if uri in subscribed:
                    await connection.send_resource_updated(uri)  # never raises


def _connection(ctx: Any) -> Any:
    """The connection a request came in on. The SDK (2.3) builds a session proxy
    per request and gives low-level handlers no public way to the connection
    behind it; the connection is what lives as long as the client does."""
    return ctx.session._connection
