"""A stop is never lost: the stack keeper's waits end on `Task.cancel()` even when
the cancellation meets a wake-up (Python 3.11's `asyncio.wait_for` swallowed it
there, and the server's close then waited for the keeper forever)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ttai.config import Settings
from ttai.mcp.stack import StackView


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_cancel_meeting_a_wake_up_still_stops_the_sleeping_loop(tmp_path: Path) -> None:
    view = StackView(Settings(state_dir=tmp_path), start_timeout=60)
    woken = 0

    async def keeper() -> None:
        nonlocal woken
        while True:
            await view._sleep(3600)
            woken += 1

    task = asyncio.create_task(keeper())
    await settle()
    view.trouble()  # wakes the sleep ...
    await asyncio.sleep(0)  # ... whose inner wait completes now
    task.cancel()  # ... as the cancellation arrives
    await settle()
    assert task.cancelled(), f"the keeper went on after cancel() (woken {woken} times)"


async def test_a_cancel_meeting_a_state_change_still_stops_a_waiting_call(
    tmp_path: Path,
) -> None:
    view = StackView(Settings(state_dir=tmp_path), start_timeout=60)
    call = asyncio.create_task(view.connection(wait_seconds=3600))
    await settle()
    await view._set("starting", "bringing up the local stack")  # wakes the waiting call
    call.cancel()
    await settle()
    assert call.cancelled()
