"""Deterministic price paths: NYSE sessions, daily OHLCV, implied volatility and intraday quotes.

The daily path starts at EPOCH and is built in blocks of sessions whose random
shocks are seeded by (seed, symbol, block). Extending the calendar therefore
never changes an earlier session: past candles stay fixed as time moves on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ttai.broker.simulated.universe import SymbolParams, stable_rng
from ttai.domain import market_calendar

EPOCH = date(2019, 1, 2)
# The day each symbol's trend passes through its reference price.
REFERENCE_DAY = date(2026, 1, 2)
SESSIONS_PER_YEAR = 252
_BLOCK = 256
# Mean reversion (per year) of log price around its trend: keeps eight years
# of 80 %-volatility paths at plausible levels while daily moves keep their volatility.
_PRICE_KAPPA = 1.5
# Implied-volatility factor: daily mean reversion and shock size (stationary sd ~ 0.2).
_IV_REVERSION = 0.03
_IV_SHOCK = 0.05
_IV_PRICE_CORRELATION = -0.5  # volatility rises when prices fall


@dataclass(frozen=True)
class SessionTable:
    """NYSE sessions from EPOCH: day and open/close as POSIX seconds (UTC)."""

    days: NDArray[np.datetime64]
    opens: NDArray[np.float64]
    closes: NDArray[np.float64]

    def current(self, ts: float) -> int:
        """The session that has opened last at `ts` (in progress or finished)."""
        return int(np.searchsorted(self.opens, ts, side="right")) - 1

    def last_completed(self, ts: float) -> int:
        return int(np.searchsorted(self.closes, ts, side="right")) - 1

    def day(self, index: int) -> date:
        return self.days[index].astype(date)


@lru_cache(maxsize=4)
def _session_table(end_year: int) -> SessionTable:
    found = market_calendar.sessions(EPOCH, date(end_year, 12, 31))
    return SessionTable(
        days=np.array([s.day for s in found], dtype="datetime64[D]"),
        opens=np.array([s.open.timestamp() for s in found]),
        closes=np.array([s.close.timestamp() for s in found]),
    )


def session_table(ts: float) -> SessionTable:
    """Sessions through the end of the year after `ts` (room for option expirations)."""
    return _session_table(datetime.fromtimestamp(ts, UTC).year + 1)


@dataclass(frozen=True)
class DailyPath:
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.int64]
    # The session's short-end at-the-money IV: the surface's level before term
    # structure and earnings (IV rank reads the 30-day IV built from it).
    iv: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.close)


def _shocks(seed: int, symbol: str, n: int) -> NDArray[np.float64]:
    blocks = [
        stable_rng(seed, symbol, "daily", b).standard_normal((6, _BLOCK))
        for b in range(-(-n // _BLOCK))
    ]
    return np.concatenate(blocks, axis=1)[:, :n]


def _ar1(shocks: NDArray[np.float64], coef: float, start: float) -> NDArray[np.float64]:
    """x[n] = coef * x[n-1] + shocks[n] with x[-1] = start: an AR(1) recursion.

    A plain loop (~1 ms for a symbol's whole history, computed once and cached)
    instead of SciPy's lfilter, which would cost every worker ~60 MiB.
    """
    out = np.empty_like(shocks)
    previous = start
    for i, shock in enumerate(shocks.tolist()):
        previous = coef * previous + shock
        out[i] = previous
    return out


def earnings_jumps(
    seed: int, params: SymbolParams, table: SessionTable, report_days: Iterable[date]
) -> NDArray[np.float64]:
    """Each session's earnings move in log terms: 0, and on a report day a normal
    draw with the standard deviation the options price for it (`earnings_move`,
    options.value_contracts), seeded by the day alone so it never changes as the
    calendar grows."""
    jumps = np.zeros(len(table.days))
    index = {d: i for i, d in enumerate(table.days.astype(date).tolist())}
    for day in report_days:
        if day in index:
            draw = stable_rng(seed, params.symbol, "earnings", day.isoformat()).standard_normal()
            jumps[index[day]] = params.earnings_move * float(draw)
    return jumps


def daily_path(
    seed: int, params: SymbolParams, table: SessionTable, report_days: Iterable[date] = ()
) -> DailyPath:
    """The daily bars of `params.symbol` over `table`'s sessions: a mean-reverting
    diffusion at `params.volatility`, plus, on each of `report_days`, the
    earnings move the options price (it opens with it: a report comes out of hours)."""
    n = len(table.days)
    z, gap, up, down, vol_noise, iv_noise = _shocks(seed, params.symbol, n)
    x_init, y_init = stable_rng(seed, params.symbol, "init").standard_normal(2)
    sigma_d = params.volatility / math.sqrt(SESSIONS_PER_YEAR)
    jumps = earnings_jumps(seed, params, table, report_days)

    # Log price = trend + an AR(1) deviation (discrete Ornstein-Uhlenbeck).
    a = 1.0 - _PRICE_KAPPA / SESSIONS_PER_YEAR
    x0 = x_init * sigma_d / math.sqrt(1.0 - a * a)
    x = _ar1(sigma_d * z + jumps, a, x0)
    years = (table.days - np.datetime64(REFERENCE_DAY)).astype(np.float64) / 365.25
    log_trend = math.log(params.ref_price) + params.drift * years
    log_close = log_trend + x
    prev_log_close = np.concatenate(([log_trend[0] + x0], log_close[:-1]))
    ret = log_close - prev_log_close
    # Part of the day's move happens overnight, the rest during the session; an
    # earnings move is all overnight (a gap at the open).
    log_open = prev_log_close + jumps + 0.3 * (ret - jumps) + 0.25 * sigma_d * gap

    close = np.round(np.exp(log_close), 2)
    open_ = np.round(np.exp(log_open), 2)
    high = np.round(np.maximum(open_, close) * np.exp(0.5 * sigma_d * np.abs(up)), 2)
    low = np.round(np.minimum(open_, close) * np.exp(-0.5 * sigma_d * np.abs(down)), 2)
    high = np.maximum.reduce([high, open_, close])
    low = np.maximum(np.minimum.reduce([low, open_, close]), 0.01)

    base_volume = 10 ** (4.5 + 0.5 * params.liquidity)
    volume = base_volume * np.exp(0.35 * vol_noise) * (1.0 + 0.5 * np.abs(ret) / sigma_d)

    b = 1.0 - _IV_REVERSION
    iv_shock = _IV_SHOCK * (
        _IV_PRICE_CORRELATION * z + math.sqrt(1.0 - _IV_PRICE_CORRELATION**2) * iv_noise
    )
    y0 = y_init * _IV_SHOCK / math.sqrt(1.0 - b * b)
    y = _ar1(iv_shock, b, y0)
    iv = params.volatility * params.iv_premium * np.exp(y)

    return DailyPath(
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume.astype(np.int64),
        iv=np.round(iv, 4),
    )


@lru_cache(maxsize=4096)
def _intraday_log_path(
    seed: int,
    symbol: str,
    day: date,
    minutes: int,
    ohlc: tuple[float, float, float, float],
    sd: float,
) -> NDArray[np.float64]:
    """Per-minute log prices from the open to the close, within the day's low and high.

    A Brownian bridge around the straight open-to-close line; its upward and
    downward excursions are each scaled down just enough to stay inside the
    candle, so the quote never sits flat at a bound.
    """
    log_open, log_high, log_low, log_close = np.log(ohlc)
    steps = stable_rng(seed, symbol, "intraday", day.isoformat()).standard_normal(minutes)
    walk = np.concatenate(([0.0], np.cumsum(steps)))
    frac = np.arange(minutes + 1) / minutes
    line = log_open + frac * (log_close - log_open)
    bridge = (walk - frac * walk[-1]) * (sd / math.sqrt(minutes))
    up, down = bridge > 0, bridge < 0
    room_up = np.min((log_high - line[up]) / bridge[up], initial=1.0)
    room_down = np.min((log_low - line[down]) / bridge[down], initial=1.0)
    return line + bridge * np.where(up, max(room_up, 0.0), max(room_down, 0.0))


def _session_path(
    seed: int, params: SymbolParams, path: DailyPath, table: SessionTable, c: int
) -> NDArray[np.float64]:
    """Session `c`'s per-minute log prices (open to close)."""
    minutes = max(1, round((table.closes[c] - table.opens[c]) / 60))
    return _intraday_log_path(
        seed,
        params.symbol,
        table.day(c),
        minutes,
        (float(path.open[c]), float(path.high[c]), float(path.low[c]), float(path.close[c])),
        params.volatility / math.sqrt(SESSIONS_PER_YEAR),
    )


def price_at(
    seed: int, params: SymbolParams, path: DailyPath, table: SessionTable, ts: float
) -> tuple[float, int]:
    """The traded price at `ts` and the index of the session it belongs to.

    Inside a session the price follows that day's intraday path (interpolated
    between minutes); outside market hours it
    stays at the last session's close.
    """
    c = table.current(ts)
    if ts >= table.closes[c]:
        return float(path.close[c]), c
    log_path = _session_path(seed, params, path, table, c)
    pos = (ts - table.opens[c]) / 60.0
    i = min(int(pos), len(log_path) - 2)
    value = math.exp(log_path[i] + (pos - i) * (log_path[i + 1] - log_path[i]))
    return float(min(max(value, path.low[c]), path.high[c])), c


def session_so_far(
    seed: int, params: SymbolParams, path: DailyPath, table: SessionTable, ts: float
) -> tuple[float, float, float, float, int] | None:
    """The session in progress at `ts` as a partial bar: open, high and low so
    far, the price now (rounded as quotes are) and the volume so far; None when
    no session is trading."""
    c = table.current(ts)
    if c < 0 or ts >= table.closes[c]:
        return None
    last = round(price_at(seed, params, path, table, ts)[0], 2)
    log_path = _session_path(seed, params, path, table, c)
    seen = np.exp(log_path[: min(int((ts - table.opens[c]) / 60.0), len(log_path) - 1) + 1])
    open_ = float(path.open[c])
    high = max(round(float(min(seen.max(), path.high[c])), 2), open_, last)
    low = min(round(float(max(seen.min(), path.low[c])), 2), open_, last)
    elapsed = (ts - table.opens[c]) / (table.closes[c] - table.opens[c])
    return open_, high, low, last, int(path.volume[c] * elapsed)
