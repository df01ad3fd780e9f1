"""Daily candle events to the project's `Candle`s."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tastytrade.dxfeed import Candle as DXCandle

from ttai.models.market import Candle

NEW_YORK = ZoneInfo("America/New_York")


def candle_day(time_ms: int) -> date:
    """The session day of a daily candle stamped `time_ms`.

    Depending on the feed, a day's candle is stamped with midnight UTC, midnight
    New York or the session's open; twelve hours later is the same New York
    day for all three.
    """
    return datetime.fromtimestamp(time_ms / 1000 + 12 * 3600, NEW_YORK).date()


def to_candles(events: Iterable[DXCandle]) -> list[Candle]:
    """One candle per session day (the last event for a day wins), oldest first."""
    by_day: dict[date, Candle] = {}
    for event in events:
        if event.close > 0:
            day = candle_day(event.time)
            by_day[day] = Candle(
                day=day,
                open=float(event.open),
                high=float(event.high),
                low=float(event.low),
                close=float(event.close),
                volume=int(event.volume or 0),
            )
    return [by_day[day] for day in sorted(by_day)]
