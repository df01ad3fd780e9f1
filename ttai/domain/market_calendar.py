"""Trading dates and NYSE sessions (holidays and early closes).

Every trading date in the project comes from here: "today" is the New York
calendar date (`new_york_date`), never the UTC date a broker's clock reads,
and days to expiry count calendar days from it. Monitors use the sessions to
sleep until the next open; schedules use them to build their skip lists;
reports use them to end as "market closed" on a missed closure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from ttai.models.reports import MarketDay, MarketDayRequest

if TYPE_CHECKING:
    import pandas_market_calendars as mcal

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)

Hours = Literal["regular", "extended"]


def new_york_date(at: datetime) -> date:
    """The trading date at `at`: the calendar date in New York.

    Brokers' clocks answer in UTC, whose date turns at 19:00/20:00 New York
    time; a trading date must not. `at` must carry its UTC offset.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a trading date needs an aware time, got naive {at.isoformat()}")
    return at.astimezone(NEW_YORK).date()


def days_to_expiry(expiration: date, today: date) -> int:
    """Calendar days from the New York date `today` to `expiration` (0 on expiry day)."""
    return (expiration - today).days


def day_window(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in New York, as aware datetimes."""
    return (
        datetime.combine(first, time(0), NEW_YORK),
        datetime.combine(last + timedelta(days=1), time(0), NEW_YORK),
    )


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


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
    # Imported on first use (pandas and the calendars, about 65 MiB): front ends
    # that only need `NEW_YORK` or a date conversion never pay for it.
    import pandas_market_calendars as mcal

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


def previous_session(day: date) -> Session:
    """The last session strictly before `day`."""
    found = sessions(day - timedelta(days=15), day - timedelta(days=1))
    if not found:
        raise LookupError(f"no NYSE session within 15 days before {day.isoformat()}")
    return found[-1]


def latest_session(at: datetime) -> Session:
    """The latest session that has opened by `at` (in progress or finished).

    Day P&L at `at` is this session's: from the close of the session before it
    (what a broker's previous close, `Position.prev_close`, refers to), with the
    fills since then. During a session that is today's move; after the close,
    on a weekend or a holiday and before the next open, the last session's move,
    trades included. The end-of-day summary, run after its session's close,
    measures the same day.
    """
    day = new_york_date(at)
    today = session_on(day)
    return today if today is not None and today.open <= at else previous_session(day)


def market_day(request: MarketDayRequest) -> MarketDay:
    """Is the New York date of `request.as_of` (or its week so far) a trading day?"""
    day = new_york_date(request.as_of)
    first = week_start(day) if request.scope == "week" else day
    found = sessions(first, day)
    today = next((s for s in found if s.day == day), None)
    return MarketDay(
        day=day,
        open=bool(found),
        sessions=len(found),
        early_close=today is not None and today.early_close,
    )


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
