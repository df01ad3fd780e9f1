"""Heartbeats for activities that are usually fast but may be slow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")


@asynccontextmanager
async def heartbeating(first_after: float = 1.0, every: float = 2.0) -> AsyncIterator[None]:
    """Heartbeat in the background once the block has run `first_after` seconds.

    A block that ends sooner sends nothing (no extra call to the server for a
    fast analysis); a slow one stays alive under its heartbeat timeout and can
    be cancelled, since cancellation reaches an activity only through the
    answer to a heartbeat. The SDK throttles what is actually sent.
    """

    async def beat() -> None:
        await asyncio.sleep(first_after)
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


async def uncancellable(step: Awaitable[T]) -> T:
    """Run `step` to its end even if the activity is cancelled meanwhile (a write
    that must not be left half-known: once it is done, its result is returned)."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        return await task
