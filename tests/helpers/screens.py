"""What screen tests share: services on the simulated market, and readings of
a screen's progress, its saved analyses and its history."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from tests.helpers.waiting import eventually
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.config import Settings
from ttai.models.screener import ScreenInput, ScreenProgress, ScreenResult
from ttai.notify.outbox import Outbox
from ttai.services import Services

SEED = 7


def services(pool: asyncpg.Pool, market: SimulatedMarket, latency: float = 0.0) -> Services:
    """`latency`: seconds each broker call waits (a screen a test stops mid-way)."""
    return Services(
        settings=Settings(market_seed=SEED),
        pool=pool,
        broker=SimulatedBroker(market, InMemoryPaperAccount(), latency=latency),
        outbox=Outbox(pool, []),
    )


async def start_screen(
    client: Client, task_queue: str, request: ScreenInput, name: str = "screen"
) -> WorkflowHandle[Any, ScreenResult]:
    """Start a ScreenerWorkflow under a fresh ID, `<name>-<8 hex digits>`."""
    return await client.start_workflow(
        "ScreenerWorkflow",
        request,
        id=f"{name}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ScreenResult,
    )


async def wait_for_progress(
    handle: WorkflowHandle[Any, Any],
    reached: Callable[[ScreenProgress], bool],
    within: float = 120,
) -> ScreenProgress:
    """The screen's progress once `reached` holds for it."""
    return await eventually(
        lambda: handle.query("progress", result_type=ScreenProgress),
        what=f"screen {handle.id} to progress",
        until=reached,
        within=within,
        every=0.1,
    )


async def analyses_per_symbol(
    db: asyncpg.Pool | asyncpg.Connection, screen_id: str
) -> dict[str, int]:
    """How many saved analyses each symbol of the screen has."""
    rows = await db.fetch(
        "SELECT symbol, count(*) AS n FROM analyses WHERE screen_id = $1 GROUP BY symbol",
        screen_id,
    )
    return {r["symbol"]: r["n"] for r in rows}


async def activity_times(
    handle: WorkflowHandle[Any, Any], name: str
) -> list[tuple[datetime, datetime, str]]:
    """(scheduled, started, worker identity) of each `name` activity, from history."""
    scheduled: dict[int, datetime] = {}
    out = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == name:
                scheduled[event.event_id] = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if attrs.scheduled_event_id in scheduled:
                started = event.event_time.ToDatetime()
                out.append((scheduled[attrs.scheduled_event_id], started, attrs.identity))
    return out
