"""TTAI's tools, resources and prompts for an AI host, declared over the ops layer.

`declare(server)` registers them; the server runs it after the handshake
(ttai.mcp.server), since the models and operations imported here cost more
than `initialize` may take. Every tool validates its arguments (the schema
carries the workflow models' own constraints, the body parses them into the
models), waits for the stack, calls one operation of `ttai.ops`, and returns
that operation's model as structured output. Nothing here talks to Temporal.

Waiting calls (`analyze_symbol`, `screen_symbols`, `reports` run) are
cancelled with the workflow they started: a host that cancels the call
(`notifications/cancelled`, a closed connection) cancels the analysis, the
screen or the report too (`cancel_if_abandoned`). Work started with
`wait=false` is never cancelled by the server; `cancel_task` stops it.

The tools live by group: tasks.py (analyze_symbol, screen_symbols, get_task,
cancel_task, list_tasks), alerts.py (alerts and monitors), account.py (portfolio,
market_status, watchlists, reports), arguments.py (what their arguments share);
the resources and prompts in ttai.mcp.resources and ttai.mcp.prompts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import ToolAnnotations

from ttai.mcp.app import App
from ttai.mcp.prompts import PROMPTS
from ttai.mcp.resources import STATIC_RESOURCES, TEMPLATES
from ttai.mcp.server import TtaiServer
from ttai.mcp.tools.account import market_status, portfolio, reports, watchlists
from ttai.mcp.tools.alerts import add_alert, list_alerts, monitors, remove_alert
from ttai.mcp.tools.tasks import analyze_symbol, cancel_task, get_task, list_tasks, screen_symbols

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
STARTS_WORK = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False)
REMOVES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)
# Pausing a monitor stops alerts until someone resumes it: hosts should ask first.
STEERS = ToolAnnotations(read_only_hint=False, destructive_hint=True)

TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = [
    (analyze_symbol, STARTS_WORK),
    (screen_symbols, STARTS_WORK),
    (get_task, READ_ONLY),
    (cancel_task, REMOVES),
    (list_tasks, READ_ONLY),
    (add_alert, CHANGES),
    (list_alerts, READ_ONLY),
    (remove_alert, REMOVES),
    (portfolio, READ_ONLY),
    (market_status, READ_ONLY),
    (monitors, STEERS),
    (watchlists, CHANGES),
    (reports, STARTS_WORK),
]


def declare(server: TtaiServer) -> None:
    """Register every tool, resource and prompt on `server`."""
    for fn, hints in TOOLS:
        server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)

    def current_app() -> App:
        if not server.apps:
            raise ResourceError("the server is not connected yet")
        return server.apps[-1]  # stdio: the one connection; HTTP: the one process-wide app

    def reader_of(read: Callable[[App], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def reader() -> Any:
            return await read(current_app())

        reader.__name__ = read.__name__
        return reader

    for uri, name, description, read in STATIC_RESOURCES:
        server.resource(uri, name=name, mime_type="application/json", description=description)(
            reader_of(read)
        )
    for uri, name, description, template in TEMPLATES:
        server.resource(uri, name=name, mime_type="application/json", description=description)(
            template
        )
    for prompt in PROMPTS:
        server.prompt(description=inspect.cleandoc(prompt.__doc__ or ""))(prompt)
