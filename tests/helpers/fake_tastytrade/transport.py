"""An in-process transport the SDK's several httpx clients can share at once.

`Session(..., transport=t)` hands `t` to the session's client and to every
`DXLinkStreamer`'s client (it re-uses `session.client_kwargs`). The stock
`httpx2.websockets.ASGIWebSocketTransport` keeps one task group, one exit stack
and one scope per instance, so two streamers open at the same time (concurrent
activities sharing one broker) would overwrite each other's. This subclass keeps
them per entering task and passes each connection its own scope.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

import anyio
from httpx2 import Request, Response
from httpx2.websockets import ASGIWebSocketTransport
from httpx2.websockets._transport import ASGIWebSocketAsyncNetworkStream

_Entry = tuple[anyio.abc.TaskGroup, contextlib.AsyncExitStack]


class SharedASGIWebSocketTransport(ASGIWebSocketTransport):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self._entries: dict[asyncio.Task[Any] | None, list[_Entry]] = defaultdict(list)

    async def __aenter__(self) -> SharedASGIWebSocketTransport:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        group = await stack.enter_async_context(anyio.create_task_group())
        self._entries[asyncio.current_task()].append((group, stack))
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        task = asyncio.current_task()
        _, stack = self._entries[task].pop()
        if not self._entries[task]:
            del self._entries[task]
        await stack.__aexit__(*exc_info)

    async def _handle_ws_request(self, request: Request, scope: dict[str, Any]) -> Response:
        entries = self._entries.get(asyncio.current_task())
        if not entries:
            raise RuntimeError("open websockets only from a client used in `async with`")
        group, stack = entries[-1]

        async def open_stream(*, task_status: Any) -> None:
            stream = ASGIWebSocketAsyncNetworkStream(
                self.app,  # type: ignore[arg-type]
                scope,
                group,
                self._initial_receive_timeout,
            )
            task_status.started(await stack.enter_async_context(stream))

        stream, accept_response = await group.start(open_stream)
        lines = accept_response.decode("utf-8").splitlines()
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line.strip()]
        return Response(status_code=101, headers=headers, extensions={"network_stream": stream})
