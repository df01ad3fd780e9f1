"""The simulated market pinned to known times, and the NYSE calendar to check it against.

Shared by the simulated market's tests (tests/broker/test_simulated_market.py,
tests/broker/test_simulated_options.py). The calendar comes from
`pandas_market_calendars`, independent of the project's own market calendar.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

import pandas_market_calendars as mcal

from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.universe import KNOWN_SYMBOLS

# Tuesday 24 Nov 2026, 12:00 in New York: the market is open.
NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
SAMPLE = ["AAPL", "SPY", "KO", "TSLA"]


def fixed(at: datetime) -> SimulatedMarket:
    """The market of seed 7 with its clock stopped at `at`."""
    return SimulatedMarket(seed=7, clock=lambda: at)


def generated(market: SimulatedMarket, count: int = 5) -> list[str]:
    """The first `count` catalogue tickers that are not well known (generated parameters)."""
    return [s for s in market.symbols if s not in KNOWN_SYMBOLS][:count]


@functools.cache
def nyse_sessions() -> frozenset[date]:
    schedule = mcal.get_calendar("NYSE").schedule("2018-12-01", "2029-12-31")
    return frozenset(d.date() for d in schedule.index)


@functools.cache
def nyse_closes() -> dict[date, datetime]:
    schedule = mcal.get_calendar("NYSE").schedule("2026-01-01", "2029-12-31")
    return {d.date(): c.to_pydatetime() for d, c in schedule["market_close"].items()}
