"""Is NYSE open now, when does it next open and close, which sessions close early.

Answered from the NYSE sessions a running monitor carries in its `status`
query (each monitor fetches three weeks of sessions through an activity and
keeps them in its state), so a front end needs neither pandas nor the
calendar library: importing them costs about 65 MiB, which the MCP server
cannot afford when it only connects. Only when no monitor running on regular
hours can answer (stopped, or Temporal unreachable) is the local calendar
(`ttai.domain.market_calendar`) imported, on first use.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import Field

from ttai.domain.market_calendar import NEW_YORK, REGULAR_CLOSE
from ttai.models.common import Model
from ttai.models.monitors import MONITOR_TYPES, STATUS_QUERY, MonitorStatus
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import OpsError

CALENDAR_DAYS = 21
UPCOMING = 5
MONITOR_QUERY_SECONDS = 5.0


class MarketSession(Model):
    day: date = Field(description="The New York date.")
    open: datetime
    close: datetime
    early_close: bool = Field(description="Closes before 16:00 New York time.")


class MarketStatus(Model):
    now: datetime
    is_open: bool
    session: MarketSession | None = Field(description="The session under way, if open.")
    next_open: datetime | None = Field(description="The next session's open (after now).")
    next_close: datetime | None = Field(
        description="When the session under way closes, else when the next one does."
    )
    upcoming: list[MarketSession] = Field(description="The next sessions, today's included.")
    early_closes: list[MarketSession] = Field(
        description="Early closes among the sessions known (about three weeks ahead)."
    )
    source: Literal["monitor", "calendar"]
    source_detail: str = Field(description="Which monitor answered, or the local calendar.")


def _session(open_: datetime, close: datetime) -> MarketSession:
    close_ny = close.astimezone(NEW_YORK)
    return MarketSession(
        day=open_.astimezone(NEW_YORK).date(),
        open=open_,
        close=close,
        early_close=close_ny.time() < REGULAR_CLOSE,
    )


def status_from_sessions(
    sessions: list[MarketSession],
    now: datetime,
    *,
    source: Literal["monitor", "calendar"],
    detail: str,
) -> MarketStatus:
    ahead = sorted((s for s in sessions if s.close > now), key=lambda s: s.open)
    current = next((s for s in ahead if s.open <= now < s.close), None)
    later = [s for s in ahead if s.open > now]
    return MarketStatus(
        now=now,
        is_open=current is not None,
        session=current,
        next_open=later[0].open if later else None,
        next_close=current.close if current else (later[0].close if later else None),
        upcoming=ahead[:UPCOMING],
        early_closes=[s for s in ahead if s.early_close],
        source=source,
        source_detail=detail,
    )


async def _monitor_status(conn: Connection, workflow_id: str) -> MonitorStatus | None:
    try:
        return await calls.query(
            conn, workflow_id, STATUS_QUERY, MonitorStatus, not_found=workflow_id
        )
    except OpsError:
        return None


async def _from_monitor(conn: Connection, now: datetime) -> MarketStatus | None:
    """The first monitor on regular hours whose sessions reach past now.

    A stopped monitor answers too (from its final state): its sessions are
    still the calendar's, and one stopped long ago knows no future session.
    """
    try:
        statuses = await asyncio.wait_for(
            asyncio.gather(*(_monitor_status(conn, w) for w in MONITOR_TYPES)),
            MONITOR_QUERY_SECONDS,
        )
    except (OpsError, TimeoutError):  # Temporal or the worker down: the calendar answers
        return None
    for workflow_id, status in zip(MONITOR_TYPES, statuses, strict=True):
        if status is None or status.hours != "regular":
            continue
        sessions = [_session(w.open, w.close) for w in status.state.sessions]
        if any(s.open > now for s in sessions):  # knows the next open, not just today
            return status_from_sessions(
                sessions, now, source="monitor", detail=f"{workflow_id} status query"
            )
    return None


def from_calendar(now: datetime) -> MarketStatus:
    """The same answer from the local NYSE calendar (imports pandas on first use)."""
    from ttai.domain import market_calendar

    today = now.astimezone(NEW_YORK).date()
    found = market_calendar.sessions(
        today - timedelta(days=1), today + timedelta(days=CALENDAR_DAYS)
    )
    return status_from_sessions(
        [_session(s.open, s.close) for s in found],
        now,
        source="calendar",
        detail="local NYSE calendar (pandas_market_calendars)",
    )


async def market_status(conn: Connection | None, *, now: datetime | None = None) -> MarketStatus:
    """From a monitor when one can answer, else from the local calendar; works
    with Temporal down too."""
    now = now or datetime.now(UTC)
    if conn is not None:
        found = await _from_monitor(conn, now)
        if found is not None:
            return found
    return await asyncio.to_thread(from_calendar, now)
