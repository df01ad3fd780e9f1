"""A tiny HTTP server on a free local port, for the webhooks and collectors
tests point real clients at."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ttai.loopback import free_port


@contextlib.asynccontextmanager
async def serving_posts(
    route: str, handler: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[int]:
    """`handler` answers POSTs to `route` on 127.0.0.1 for the length of the
    block; yields the port."""
    app = web.Application()
    app.router.add_post(route, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield port
    finally:
        await runner.cleanup()
