"""The simulated market pinned to known times (or running from one), and the NYSE
calendar to check it against.

Shared by the simulated market's tests (tests/broker/test_simulated_market.py,
tests/broker/test_simulated_options.py), and by what needs prices that move and a
crossing known in advance (the MCP push test, bench/monitors.py). The calendar
comes from `pandas_market_calendars`, independent of the project's own market
calendar.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas_market_calendars as mcal

from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.ticks import TickStream
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


def running_from(at: datetime, seed: int = 7) -> SimulatedMarket:
    """The market of `seed` whose clock reads `at` now and runs on at the machine's
    pace: a session's prices move whenever the test runs."""
    started = time.monotonic()
    return SimulatedMarket(
        seed=seed, clock=lambda: at + timedelta(seconds=time.monotonic() - started)
    )


@dataclass(frozen=True)
class Crossing:
    level: float  # crosses_up through this level
    at: datetime  # the first tick at or above it
    price: float  # that tick's price


def first_crossing(
    market: SimulatedMarket, rate: float, symbol: str, earliest: datetime, within: float = 180
) -> Crossing:
    """A level `symbol`'s ticks (`rate` a second) cross upwards for the first time from
    now at a tick no earlier than `earliest`: every tick before it is below the level,
    that one at or above it. From the market's deterministic path, before it happens."""
    grid = TickStream(market, rate, [])
    now = market.now().timestamp()
    times = []
    t = grid.tick_at_or_before(symbol, now)
    while t <= earliest.timestamp() + within:
        times.append(t)
        t += 1 / rate
    prices = [market.get_quote(symbol, datetime.fromtimestamp(t, UTC)).last for t in times]
    highest = prices[0]
    for t, price in zip(times[1:], prices[1:], strict=True):
        if price > highest and t >= earliest.timestamp():
            return Crossing((highest + price) / 2, datetime.fromtimestamp(t, UTC), price)
        highest = max(highest, price)
    raise AssertionError(f"{symbol} makes no new high within {within:g} s of {earliest}")
