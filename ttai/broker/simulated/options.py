"""Listed expirations and strikes, the volatility surface, and option quotes from it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from ttai.broker.simulated.prices import SessionTable
from ttai.broker.simulated.universe import SymbolParams
from ttai.domain.analytics import black_scholes as bs

RISK_FREE_RATE = 0.04
"""The simulated market's constant continuously-compounded risk-free rate."""

SECONDS_PER_YEAR = 365.0 * 86400.0
WEEKLY_EXPIRATIONS = 8
MONTHLY_HORIZON_DAYS = 180
STRIKE_RANGE = 0.35  # strikes listed within +-35 % of the previous close
_MAX_STRIKES = 80
_STRIKE_STEPS = (0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0)
# Variance of the implied-volatility level decays towards the long-run level
# over this many years (term structure).
_TERM_DECAY_YEARS = 0.25
# Half bid/ask spread as a fraction of value, and its floor in dollars, by liquidity 0..5.
_HALF_SPREAD = (0.20, 0.12, 0.08, 0.05, 0.03, 0.015)
_MIN_HALF_SPREAD = (0.10, 0.07, 0.05, 0.03, 0.02, 0.01)
_BASE_OPEN_INTEREST = (40, 150, 600, 2500, 8000, 25000)


def strike_step(price: float) -> float:
    """The smallest standard increment that lists at most ~80 strikes over the range."""
    for step in _STRIKE_STEPS:
        if 2 * STRIKE_RANGE * price / step <= _MAX_STRIKES:
            return step
    return _STRIKE_STEPS[-1]


def strikes_around(price: float) -> NDArray[np.float64]:
    step = strike_step(price)
    lo = max(step, math.ceil(price * (1 - STRIKE_RANGE) / step) * step)
    hi = math.floor(price * (1 + STRIKE_RANGE) / step) * step
    return np.round(np.arange(lo, hi + step / 2, step), 2)


def expiration_sessions(table: SessionTable, ts: float) -> tuple[list[int], set[int]]:
    """Session indices of listed expirations at `ts`, and which of them are monthlies.

    Weeklies expire on each week's last session (Friday, or Thursday when Friday
    is a holiday) for the next WEEKLY_EXPIRATIONS weeks; monthlies on the third
    Friday (or the session before it) up to MONTHLY_HORIZON_DAYS ahead.
    """
    start = table.last_completed(ts) + 1
    day_numbers = table.days.astype(np.int64)
    weeks = (day_numbers + 3) // 7  # 1970-01-01 was a Thursday: week numbers change on Mondays
    last_of_week = np.flatnonzero(weeks[start:-1] != weeks[start + 1 :]) + start
    weekly = [int(i) for i in last_of_week[:WEEKLY_EXPIRATIONS]]

    first_day = table.day(start)
    horizon = first_day + timedelta(days=MONTHLY_HORIZON_DAYS)
    monthly: set[int] = set()
    year, month = first_day.year, first_day.month
    while date(year, month, 1) <= horizon:
        first = date(year, month, 1)
        third_friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        i = int(np.searchsorted(table.days, np.datetime64(third_friday), side="right")) - 1
        if i >= start and third_friday <= horizon:
            monthly.add(i)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(set(weekly) | monthly), monthly


def occ_symbol(underlying: str, expiration: date, kind: str, strike: float) -> str:
    """OCC option symbol: root padded to 6, YYMMDD, C/P, strike x 1000 in 8 digits."""
    return f"{underlying:<6}{expiration:%y%m%d}{kind[0].upper()}{round(strike * 1000):08d}"


@dataclass(frozen=True)
class UnderlyingState:
    """What option values depend on at one instant."""

    spot: float
    iv: float  # at-the-money implied volatility of the session
    ts: float  # POSIX seconds


@dataclass(frozen=True)
class ContractValues:
    """Per-contract arrays (puts and calls share the volatility of their strike)."""

    iv: NDArray[np.float64]
    moneyness: NDArray[np.float64]  # ln(K/F) in standard deviations to expiry
    put: bs.Valuation
    call: bs.Valuation


def value_contracts(
    params: SymbolParams,
    state: UnderlyingState,
    strikes: NDArray[np.float64],
    expiry_ts: NDArray[np.float64],
    earnings_events: NDArray[np.float64],
) -> ContractValues:
    """Theoretical values and greeks from the symbol's volatility surface.

    At-the-money variance: the session's IV, mean-reverting towards the
    symbol's long-run level for later expiries, plus one `earnings_move`^2 for
    each earnings report before expiry. The smile adds a put skew in
    standardised moneyness.
    """
    t = np.maximum((expiry_ts - state.ts) / SECONDS_PER_YEAR, 1.0 / (365.0 * 24.0))
    long_run = params.volatility * params.iv_premium
    level = long_run**2 + (state.iv**2 - long_run**2) * np.exp(-t / _TERM_DECAY_YEARS)
    atm = np.sqrt(level + earnings_events * params.earnings_move**2 / t)
    forward = state.spot * np.exp((RISK_FREE_RATE - params.dividend_yield) * t)
    m = np.clip(np.log(strikes / forward) / (atm * np.sqrt(t)), -4.0, 4.0)
    iv = np.clip(atm * (1.0 - params.skew * m + 0.25 * params.skew * m**2), 0.05, 3.0)
    args = (state.spot, strikes, t, RISK_FREE_RATE, iv, params.dividend_yield)
    return ContractValues(
        iv=iv, moneyness=m, put=bs.evaluate("put", *args), call=bs.evaluate("call", *args)
    )


def bid_ask(
    theo: NDArray[np.float64], liquidity: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A market around the theoretical value: never negative, on a 0.01 / 0.05 tick."""
    half = np.maximum(theo * _HALF_SPREAD[liquidity], _MIN_HALF_SPREAD[liquidity])
    tick = np.where(theo < 3.0, 0.01, 0.05)
    # Rounding to 1e-9 first keeps exact multiples of the tick from moving a tick.
    bid = np.maximum(np.floor(np.round((theo - half) / tick, 9)) * tick, 0.0)
    ask = np.ceil(np.round((theo + half) / tick, 9)) * tick
    return np.round(bid, 2), np.round(np.maximum(ask, bid + tick), 2)


def open_interest(
    params: SymbolParams,
    moneyness: NDArray[np.float64],
    t_years: NDArray[np.float64],
    is_monthly: NDArray[np.bool_],
    round_strike: NDArray[np.bool_],
    noise: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Largest at the money, falling with distance; monthlies and round strikes get more."""
    oi = (
        _BASE_OPEN_INTEREST[params.liquidity]
        * np.exp(-0.5 * (moneyness / 1.5) ** 2)
        * np.where(is_monthly, 1.5, 1.0)
        * np.where(round_strike, 1.5, 1.0)
        * (0.4 + np.exp(-2.0 * t_years))
        * np.exp(0.4 * noise)
    )
    return oi.astype(np.int64)
