"""Listed expirations and strikes, the volatility surface, and option quotes from it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ttai.broker.simulated.prices import SessionTable
from ttai.broker.simulated.universe import SymbolParams
from ttai.domain.analytics import black_scholes as bs

RISK_FREE_RATE = 0.04
"""The simulated market's constant continuously-compounded risk-free rate."""

SECONDS_PER_YEAR = 365.0 * 86400.0
IV_INDEX_DAYS = 30
"""IV rank and percentile read the 30-day constant-maturity IV, as brokers do."""
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


_WEEK_ENDS: dict[int, NDArray[np.int64]] = {}


def week_end_sessions(table: SessionTable) -> NDArray[np.int64]:
    """Indices of each week's last session (where weeklies expire), in order."""
    # Every table starts at the same EPOCH, so its length identifies it.
    found = _WEEK_ENDS.get(len(table.days))
    if found is None:
        weeks = (table.days.astype(np.int64) + 3) // 7  # 1970-01-01 was a Thursday
        found = _WEEK_ENDS[len(table.days)] = np.flatnonzero(weeks[:-1] != weeks[1:])
    return found


def expiration_sessions(table: SessionTable, ts: float) -> tuple[list[int], set[int]]:
    """Session indices of listed expirations at `ts`, and which of them are monthlies.

    Weeklies expire on each week's last session (Friday, or Thursday when Friday
    is a holiday) for the next WEEKLY_EXPIRATIONS weeks; monthlies on the third
    Friday (or the session before it) up to MONTHLY_HORIZON_DAYS ahead.
    """
    start = table.last_completed(ts) + 1
    week_ends = week_end_sessions(table)
    weekly = [int(i) for i in week_ends[week_ends >= start][:WEEKLY_EXPIRATIONS]]

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


def _years_to(expiry_ts: ArrayLike, ts: ArrayLike) -> NDArray[np.float64]:
    """Years to expiry, at least an hour (a contract in its last hour still has time value)."""
    return np.maximum(
        (np.asarray(expiry_ts) - np.asarray(ts)) / SECONDS_PER_YEAR, 1.0 / (365.0 * 24.0)
    )


def _atm_level(params: SymbolParams, iv: ArrayLike, t: NDArray[np.float64]) -> NDArray[np.float64]:
    """At-the-money variance rate without earnings: the session's IV squared,
    mean-reverting to the long-run level for later expiries (term structure)."""
    long_run = params.volatility * params.iv_premium
    iv = np.asarray(iv)
    return long_run**2 + (iv**2 - long_run**2) * np.exp(-t / _TERM_DECAY_YEARS)


def constant_maturity_iv(
    params: SymbolParams,
    table: SessionTable,
    iv: NDArray[np.float64],
    ts: NDArray[np.float64],
    today: NDArray[np.datetime64],
    earnings: NDArray[np.datetime64],
) -> NDArray[np.float64]:
    """The surface's 30-day at-the-money IV at each instant `ts`, as brokers quote it.

    Total variance (sigma^2 t, earnings included) of the at-the-money IV of the
    two listed expirations around 30 days, interpolated linearly in time to
    exactly 30 calendar days. `iv` is the session IV at each instant, `today`
    its New York date, `earnings` the sorted report days.
    """
    week_ends = week_end_sessions(table)
    expiry_close = table.closes[week_ends]
    target = ts + IV_INDEX_DAYS * 86400.0
    # Weeklies are listed eight weeks out: one always expires on each side of 30 days.
    after = np.clip(np.searchsorted(expiry_close, target, side="left"), 1, len(week_ends) - 1)
    reported_before_today = np.searchsorted(earnings, today, side="left")

    def total_variance(expiry: NDArray[np.int64]) -> NDArray[np.float64]:
        t = _years_to(table.closes[expiry], ts)
        events = np.searchsorted(earnings, table.days[expiry], side="right") - reported_before_today
        return _atm_level(params, iv, t) * t + events * params.earnings_move**2

    near, far = week_ends[after - 1], week_ends[after]
    t_near, t_far = _years_to(table.closes[near], ts), _years_to(table.closes[far], ts)
    w_near, w_far = total_variance(near), total_variance(far)
    years = IV_INDEX_DAYS / 365.0
    defined = (t_far > t_near) & (table.closes[far] >= target)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = w_near + (w_far - w_near) * (years - t_near) / (t_far - t_near)
    return np.where(defined, np.sqrt(np.maximum(w, 0.0) / years), np.nan)


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
    t = _years_to(expiry_ts, state.ts)
    level = _atm_level(params, state.iv, t)
    atm = np.sqrt(level + earnings_events * params.earnings_move**2 / t)
    forward = state.spot * np.exp((RISK_FREE_RATE - params.dividend_yield) * t)
    m = np.clip(np.log(strikes / forward) / (atm * np.sqrt(t)), -4.0, 4.0)
    iv = np.clip(atm * (1.0 - params.skew * m + 0.25 * params.skew * m**2), 0.05, 3.0)
    args = (state.spot, strikes, t, RISK_FREE_RATE, iv, params.dividend_yield)
    put, call = bs.evaluate("put", *args), bs.evaluate("call", *args)
    return ContractValues(
        iv=iv,
        moneyness=m,
        put=early_exercise_floor(put, intrinsic("put", state.spot, strikes), -1.0),
        call=early_exercise_floor(call, intrinsic("call", state.spot, strikes), 1.0),
    )


def intrinsic(kind: str, spot: float, strikes: NDArray[np.float64]) -> NDArray[np.float64]:
    """What exercising now is worth, per share."""
    return np.maximum(strikes - spot, 0.0) if kind == "put" else np.maximum(spot - strikes, 0.0)


def early_exercise_floor(
    value: bs.Valuation, floor: NDArray[np.float64], delta: float
) -> bs.Valuation:
    """Options on US equities are American: never worth less than exercising now.
    Where the European value falls below that (deep in the money, when carry makes
    waiting cost more than it is worth) the contract is worth its intrinsic value
    and moves one for one with the stock: delta +-1, no gamma, theta or vega."""
    below = np.asarray(value.price) < floor
    return bs.Valuation(
        price=np.where(below, floor, value.price),
        delta=np.where(below, delta, value.delta),
        gamma=np.where(below, 0.0, value.gamma),
        theta=np.where(below, 0.0, value.theta),
        vega=np.where(below, 0.0, value.vega),
    )


def bid_ask(
    theo: NDArray[np.float64], liquidity: int, floor: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A market around the theoretical value: never negative, on a 0.01 / 0.05 tick,
    its mid never below `floor` (the intrinsic value: the ask goes up a tick
    where rounding the bid down would put the mid under it)."""
    half = np.maximum(theo * _HALF_SPREAD[liquidity], _MIN_HALF_SPREAD[liquidity])
    tick = np.where(theo < 3.0, 0.01, 0.05)
    # Rounding to 1e-9 first keeps exact multiples of the tick from moving a tick.
    bid = np.maximum(np.floor(np.round((theo - half) / tick, 9)) * tick, 0.0)
    ask = np.maximum(np.ceil(np.round((theo + half) / tick, 9)) * tick, bid + tick)
    if floor is not None:
        ask = np.maximum(ask, np.ceil(np.round((2 * floor - bid) / tick, 9)) * tick)
    return np.round(bid, 2), np.round(ask, 2)


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
