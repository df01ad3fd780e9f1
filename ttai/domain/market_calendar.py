"""NYSE sessions (holidays and early closes) from `pandas_market_calendars`.

Monitors use it to sleep until the next open; schedules use it to build their
skip lists; reports use it to end as "market closed" on a missed closure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import pandas_market_calendars as mcal
from pydantic import BaseModel, ConfigDict

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)

Hours = Literal["regular", "extended"]


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    open: datetime
    close: datetime

    @property
    def early_close(self) -> bool:
        return self.close.astimezone(NEW_YORK).time() < REGULAR_CLOSE


@lru_cache(maxsize=1)
def _calendar() -> mcal.MarketCalendar:
    return mcal.get_calendar("NYSE")


@lru_cache(maxsize=64)
def _sessions_for_year(year: int) -> tuple[Session, ...]:
    frame = _calendar().schedule(f"{year}-01-01", f"{year}-12-31")
    return tuple(
        Session(
            day=index.date(),
            open=row.market_open.to_pydatetime(),
            close=row.market_close.to_pydatetime(),
        )
        for index, row in frame.iterrows()
    )


def sessions(start: date, end: date) -> list[Session]:
    """Trading sessions with `start <= day <= end`, regular hours, in UTC."""
    return [
        s
        for year in range(start.year, end.year + 1)
        for s in _sessions_for_year(year)
        if start <= s.day <= end
    ]


def session_on(day: date) -> Session | None:
    found = sessions(day, day)
    return found[0] if found else None


def trading_window(session: Session, hours: Hours) -> tuple[datetime, datetime]:
    """When `session` trades: the regular session, or 04:00 ET to 4 h after the close."""
    if hours == "extended":
        pre = datetime.combine(session.day, time(4, 0), NEW_YORK).astimezone(UTC)
        return pre, session.close + timedelta(hours=4)
    return session.open, session.close


def closed_weekdays(start: date, end: date) -> list[date]:
    """Weekdays without a session: the holidays a schedule must skip."""
    open_days = {s.day for s in sessions(start, end)}
    day, closed = start, []
    while day <= end:
        if day.weekday() < 5 and day not in open_days:
            closed.append(day)
        day += timedelta(days=1)
    return closed
