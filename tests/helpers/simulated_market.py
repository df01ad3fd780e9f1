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
    condition: str  # crosses_up or crosses_down
    level: float
    at: datetime  # the first tick across it
    price: float  # that tick's price


def first_crossing(
    market: SimulatedMarket,
    rate: float,
    symbol: str,
    earliest: datetime,
    *,
    since: datetime | None = None,
    within: float = 180,
) -> Crossing:
    """A level `symbol`'s ticks (`rate` a second) cross for the first time since
    `since` (default: now) at a tick no earlier than `earliest`: the first new high
    or low from then on; every tick before it, from `since`, is on the other side of
    the level. From the market's deterministic path, before it happens."""
    grid = TickStream(market, rate, [])
    times = []
    t = grid.tick_at_or_before(symbol, (since or market.now()).timestamp())
    while t <= earliest.timestamp() + within:
        times.append(t)
        t += 1 / rate
    prices = [market.get_quote(symbol, datetime.fromtimestamp(t, UTC)).last for t in times]
    high = low = prices[0]
    for t, price in zip(times[1:], prices[1:], strict=True):
        if t >= earliest.timestamp() and (price > high or price < low):
            condition, level = (
                ("crosses_up", (high + price) / 2)
                if price > high
                else ("crosses_down", (low + price) / 2)
            )
            return Crossing(condition, level, datetime.fromtimestamp(t, UTC), price)
        high, low = max(high, price), min(low, price)
    raise AssertionError(f"{symbol} makes no new high or low within {within:g} s of {earliest}")
