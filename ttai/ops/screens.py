"""Screens: start a ScreenerWorkflow, follow its progress, get its ranked result.

- `start_screen(conn, ScreenInput)`: the request is the workflow's own model,
  passed through whole, so fields added to ScreenInput need nothing here. A
  watchlist is looked up first: an unknown or empty one is refused before a
  screen starts.
- `watch_screen(conn, workflow_id)`: an async iterator of `ScreenProgress`
  (the screen's `progress` query), one item whenever it changed, until the
  screen closes.
- `screen_result`, `screen`: wait for the `ScreenResult` (optionally
  reporting progress on the way). Cancelling a screen is `tasks.cancel_task`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import Field

from ttai.models.common import MAX_SCREEN_ID_LENGTH, Model, ScreenId
from ttai.models.screener import (
    PROGRESS_QUERY,
    SCREENER_WORKFLOW,
    ScreenInput,
    ScreenProgress,
    ScreenResult,
)
from ttai.ops import calls, commands
from ttai.ops.calls import TaskRef
from ttai.ops.connection import Connection

POLL_SECONDS = 0.5

OnProgress = Callable[[ScreenProgress], Awaitable[None] | None]


class ScreenOutcome(Model):
    """The started screen, and its result when the call waited for it."""

    task: TaskRef
    result: ScreenResult | None = Field(default=None, description="None when not waited for.")


def _summary(request: ScreenInput) -> str:
    source = (
        f"watchlist {request.watchlist}"
        if request.watchlist
        else f"{len(request.symbols or [])} symbols"
    )
    return f"Screen of {source}, {request.max_concurrent} at once"


async def start_screen(
    conn: Connection, request: ScreenInput, *, workflow_id: ScreenId | None = None
) -> TaskRef:
    """Start the screen (ID `screen-<random>` unless given)."""
    workflow_id = calls.checked_workflow_id(workflow_id, MAX_SCREEN_ID_LENGTH) or calls.new_id(
        "screen"
    )
    if request.watchlist is not None:
        await commands.screenable_symbols(conn, request.watchlist)
    _, task = await calls.start(
        conn,
        SCREENER_WORKFLOW,
        request,
        workflow_id=workflow_id,
        result_type=ScreenResult,
        static_summary=_summary(request),
    )
    return task


async def screen_progress(conn: Connection, workflow_id: ScreenId) -> ScreenProgress:
    return await calls.query(
        conn,
        workflow_id,
        PROGRESS_QUERY,
        ScreenProgress,
        not_found=calls.not_found_message(workflow_id),
    )


async def watch_screen(
    conn: Connection, workflow_id: ScreenId, *, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[ScreenProgress]:
    """The screen's progress each time it changes, ending when the screen closes.

    A poll the screen cannot answer (no worker for a moment, the first task
    not yet run) is skipped; the screen's result decides how it ended.
    """
    handle, _ = await calls.describe(conn, workflow_id)
    outcome = asyncio.ensure_future(handle.result())
    last: ScreenProgress | None = None
    try:
        while True:
            closed = outcome.done()
            progress = await _progress_or_none(handle)
            if progress is not None and progress != last:
                last = progress
                yield progress
            if closed:
                return
            await asyncio.wait([outcome], timeout=poll_seconds)
    finally:
        outcome.cancel()
        with contextlib.suppress(BaseException):
            await outcome  # retrieved: no "exception never retrieved" warning


async def _progress_or_none(handle: Any) -> ScreenProgress | None:
    try:
        return await handle.query(PROGRESS_QUERY, result_type=ScreenProgress)
    except asyncio.CancelledError:
        raise
    except Exception:
        return None


async def screen_result(
    conn: Connection, workflow_id: ScreenId, *, cancel_if_abandoned: bool = False
) -> ScreenResult:
    """Wait for the screen's ranked result (a cancelled screen returns what finished)."""
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id, result_type=ScreenResult)
    return await calls.wait_result(handle, cancel_if_abandoned=cancel_if_abandoned)


async def screen(
    conn: Connection,
    request: ScreenInput,
    *,
    workflow_id: ScreenId | None = None,
    wait: bool = True,
    on_progress: OnProgress | None = None,
    cancel_if_abandoned: bool = False,
) -> ScreenOutcome:
    """Start a screen; with `wait`, follow it to its result, calling
    `on_progress` on each change. `cancel_if_abandoned`: a caller that gives
    up while waiting cancels the screen."""
    task = await start_screen(conn, request, workflow_id=workflow_id)
    if not wait:
        return ScreenOutcome(task=task)
    client = await conn.client()
    handle = client.get_workflow_handle(task.workflow_id, result_type=ScreenResult)
    try:
        if on_progress is not None:
            async with contextlib.aclosing(watch_screen(conn, task.workflow_id)) as updates:
                async for progress in updates:
                    shown = on_progress(progress)
                    if shown is not None:
                        await shown
        result = await calls.wait_result(handle)
    except asyncio.CancelledError:
        if cancel_if_abandoned:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(calls.cancel_in_background(handle))
        raise
    return ScreenOutcome(task=task, result=result)
