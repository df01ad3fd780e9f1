"""Times tests write by hand: New York wall-clock times and UTC instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from ttai.domain.market_calendar import NEW_YORK


def new_york(day: date, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` on `day` in New York (the market's clock), DST included."""
    return datetime.combine(day, time(hour, minute), NEW_YORK)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
