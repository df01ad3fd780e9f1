"""Trading dates: one place turns a broker's UTC clock into the New York date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from ttai.domain import market_calendar as cal
from ttai.models.reports import MarketDayRequest


@pytest.mark.parametrize(
    "utc, expected",
    [
        # EDT (UTC-4): the New York date turns at 04:00 UTC.
        (datetime(2026, 10, 15, 0, 0, tzinfo=UTC), date(2026, 10, 14)),  # 20:00 EDT
        (datetime(2026, 10, 15, 3, 59, tzinfo=UTC), date(2026, 10, 14)),  # 23:59 EDT
        (datetime(2026, 10, 15, 4, 0, tzinfo=UTC), date(2026, 10, 15)),  # 00:00 EDT
        # EST (UTC-5): at 05:00 UTC.
        (datetime(2026, 12, 2, 2, 30, tzinfo=UTC), date(2026, 12, 1)),  # 21:30 EST
        (datetime(2026, 12, 2, 4, 59, tzinfo=UTC), date(2026, 12, 1)),
        (datetime(2026, 12, 2, 5, 0, tzinfo=UTC), date(2026, 12, 2)),
    ],
)
def test_new_york_date_turns_at_new_york_midnight(utc: datetime, expected: date) -> None:
    assert cal.new_york_date(utc) == expected


def test_new_york_date_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.new_york_date(datetime(2026, 10, 15, 1, 30))


def test_days_to_expiry_counts_calendar_days_from_the_new_york_date() -> None:
    evening = datetime.combine(date(2026, 10, 14), time(21, 30), cal.NEW_YORK)
    today = cal.new_york_date(evening.astimezone(UTC))
    assert cal.days_to_expiry(date(2026, 11, 13), today) == 30
    assert cal.days_to_expiry(today, today) == 0


def test_market_day_reads_the_new_york_date_of_a_utc_time() -> None:
    # Friday 27 Nov 2026 01:00 UTC is Thanksgiving evening in New York: closed.
    thanksgiving_evening = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    day = cal.market_day(MarketDayRequest(as_of=thanksgiving_evening))
    assert (day.day, day.open) == (date(2026, 11, 26), False)
    week = cal.market_day(MarketDayRequest(as_of=thanksgiving_evening, scope="week"))
    assert week.open and week.sessions == 3  # Mon-Wed
    early = cal.market_day(MarketDayRequest(as_of=thanksgiving_evening + timedelta(days=1)))
    assert early.day == date(2026, 11, 27) and early.open and early.early_close


def test_day_window_week_start_and_previous_session() -> None:
    start, end = cal.day_window(date(2026, 11, 30), date(2026, 12, 4))
    assert start == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    assert cal.week_start(date(2026, 12, 4)) == date(2026, 11, 30)
    # The session before Monday 30 Nov is the early close on Friday 27 Nov.
    before = cal.previous_session(date(2026, 11, 30))
    assert before.day == date(2026, 11, 27) and before.early_close
