"""`SimulatedMarket`: quotes, candles, option chains and metrics for the simulated universe.

Every answer is a pure function of (seed, symbol, time), so two markets with
the same seed agree everywhere and a test can pin the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

import numpy as np

from ttai.broker.simulated import options as opt
from ttai.broker.simulated.chain import list_chain
from ttai.broker.simulated.earnings import earnings_before, earnings_dates, next_earnings
from ttai.broker.simulated.prices import (
    DailyPath,
    SessionTable,
    daily_path,
    price_at,
    session_so_far,
    session_table,
)
from ttai.broker.simulated.universe import (
    SymbolParams,
    listed_symbols,
    symbol_params,
)
from ttai.domain.analytics import black_scholes as bs
from ttai.domain.market_calendar import new_york_date
from ttai.models.market import Candle, MarketMetrics, OptionChain, Quote

IV_RANK_SESSIONS = 252
"""IV rank and percentile look back this many sessions (one year), today included,
over the 30-day constant-maturity IV (`iv_history`)."""

# Half bid/ask spread of the stock as a fraction of price, by liquidity 0..5.
_STOCK_HALF_SPREAD = (0.002, 0.001, 0.0006, 0.0003, 0.00015, 0.00005)


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SimulatedMarket:
    """A deterministic market for `seed`, on `clock`'s time: every well-formed
    ticker but the reserved `ZZ...` ones (universe.py)."""

    def __init__(self, seed: int, clock: Callable[[], datetime] | None = None) -> None:
        self.seed = seed
        self._clock = clock or _system_clock
        self._paths: dict[str, DailyPath] = {}
        self._iv30: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}

    # -- time and universe -------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def _ts(self, at: datetime | None) -> float:
        at = at or self.now()
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

    @property
    def symbols(self) -> list[str]:
        """The catalogue (well-known tickers, then the S&P 500); not a limit."""
        return listed_symbols()

    def params(self, symbol: str) -> SymbolParams:
        return symbol_params(self.seed, symbol)

    def _series(self, symbol: str, ts: float) -> tuple[SymbolParams, SessionTable, DailyPath]:
        params = self.params(symbol)
        table = session_table(ts)
        path = self._paths.get(symbol)
        if path is None or len(path) < len(table.days):
            reports = earnings_dates(params, table.day(0), table.day(len(table.days) - 1))
            path = self._paths[symbol] = daily_path(self.seed, params, table, reports)
        return params, table, path

    def _spot(
        self, symbol: str, ts: float
    ) -> tuple[SymbolParams, SessionTable, DailyPath, float, int]:
        params, table, path = self._series(symbol, ts)
        price, session = price_at(self.seed, params, path, table, ts)
        return params, table, path, round(price, 2), session

    # -- stock data --------------------------------------------------------

    def get_daily_candles(self, symbol: str, days: int, at: datetime | None = None) -> list[Candle]:
        """The last `days` sessions, oldest first: while a session trades, it is the
        last, as a partial bar (its open, high and low so far, the price now as
        its close, the volume so far), as a broker's daily chart shows it."""
        if days <= 0:
            return []
        ts = self._ts(at)
        params, table, path = self._series(symbol, ts)
        live = session_so_far(self.seed, params, path, table, ts)
        end = table.last_completed(ts) + 1
        start = max(0, end - days + (live is not None))
        partial = []
        if live is not None:
            o, h, lo, c, v = live
            day = table.day(table.current(ts))
            partial = [Candle(day=day, open=o, high=h, low=lo, close=c, volume=v)]
        return [
            Candle(day=day, open=o, high=h, low=lo, close=c, volume=v)
            for day, o, h, lo, c, v in zip(
                table.days[start:end].astype(date).tolist(),
                path.open[start:end].tolist(),
                path.high[start:end].tolist(),
                path.low[start:end].tolist(),
                path.close[start:end].tolist(),
                path.volume[start:end].tolist(),
                strict=True,
            )
        ] + partial

    def get_quote(self, symbol: str, at: datetime | None = None) -> Quote:
        ts = self._ts(at)
        params, _, path, last, session = self._spot(symbol, ts)
        half = max(0.005, last * _STOCK_HALF_SPREAD[params.liquidity])
        bid = round(last - half, 2)
        ask = max(round(last + half, 2), round(bid + 0.01, 2))
        return Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            last=last,
            prev_close=float(path.close[session - 1]),
            time=datetime.fromtimestamp(ts, UTC),
        )

    def get_quotes(self, symbols: Iterable[str], at: datetime | None = None) -> dict[str, Quote]:
        at = at or self.now()
        return {s: self.get_quote(s, at) for s in symbols}

    # -- volatility and events ---------------------------------------------

    def _iv30_at_closes(
        self, symbol: str, params: SymbolParams, table: SessionTable, path: DailyPath
    ) -> tuple[np.ndarray, np.ndarray]:
        """Report days, and the 30-day IV at every session's close (NaN where
        undefined: within ~30 days of the table's end, never reached). Cached:
        the past never changes."""
        cached = self._iv30.get(symbol)
        if cached is not None and cached[0] == len(table.days):
            return cached[1], cached[2]
        first, last = table.day(0), table.day(len(table.days) - 1)
        earnings = np.array(earnings_dates(params, first, last), dtype="datetime64[D]")
        values = opt.constant_maturity_iv(
            params, table, path.iv[: len(table.days)], table.closes, table.days, earnings
        )
        self._iv30[symbol] = (len(table.days), earnings, values)
        return earnings, values

    def iv_history(
        self, symbol: str, sessions: int = IV_RANK_SESSIONS, at: datetime | None = None
    ) -> list[tuple[date, float]]:
        """The symbol's 30-day constant-maturity IV per session: at each past
        session's close, and at `at` for the current session (last)."""
        ts = self._ts(at)
        params, table, path = self._series(symbol, ts)
        current = table.current(ts)
        start = max(0, current + 1 - sessions)
        earnings, at_closes = self._iv30_at_closes(symbol, params, table, path)
        now = opt.constant_maturity_iv(
            params,
            table,
            path.iv[current : current + 1],
            np.array([ts]),
            np.array([new_york_date(datetime.fromtimestamp(ts, UTC))], dtype="datetime64[D]"),
            earnings,
        )
        values = np.concatenate((at_closes[start:current], now))
        return list(
            zip(
                table.days[start : current + 1].astype(date).tolist(),
                np.round(values, 4).tolist(),
                strict=True,
            )
        )

    def next_earnings(self, symbol: str, at: datetime | None = None) -> date | None:
        today = new_york_date(datetime.fromtimestamp(self._ts(at), UTC))
        return next_earnings(self.params(symbol), today)

    def get_market_metrics(self, symbol: str, at: datetime | None = None) -> MarketMetrics:
        history = np.array([iv for _, iv in self.iv_history(symbol, IV_RANK_SESSIONS, at)])
        current, low, high = history[-1], history.min(), history.max()
        rank = 100.0 * (current - low) / (high - low) if high > low else 50.0
        percentile = 100.0 * float(np.mean(history[:-1] < current)) if len(history) > 1 else 50.0
        params = self.params(symbol)
        return MarketMetrics(
            symbol=symbol,
            iv_rank=round(float(rank), 2),
            iv_percentile=round(percentile, 2),
            implied_volatility=float(current),
            liquidity_rating=params.liquidity,
            beta=params.beta,
            next_earnings=self.next_earnings(symbol, at),
            dividend_yield=params.dividend_yield,
        )

    # -- options -----------------------------------------------------------

    def get_option_chain(self, symbol: str, at: datetime | None = None) -> OptionChain:
        ts = self._ts(at)
        params, table, path, spot, session = self._spot(symbol, ts)
        underlying = opt.UnderlyingState(spot=spot, iv=float(path.iv[session]), ts=ts)
        return list_chain(self.seed, symbol, params, table, path, underlying, session)

    def option_value(
        self,
        underlying: str,
        kind: bs.OptionKind,
        strike: float,
        expiration: date,
        at: datetime | None = None,
    ) -> bs.Valuation:
        """Theoretical value and greeks of one contract, listed or not.

        After its expiry close a contract is worth its intrinsic value against
        that session's close (no automatic exercise or assignment).
        """
        ts = self._ts(at)
        params, table, path, spot, session = self._spot(underlying, ts)
        i = int(np.searchsorted(table.days, np.datetime64(expiration), side="right")) - 1
        expiry_ts = float(table.closes[i])
        if expiry_ts <= ts:
            return bs.evaluate(kind, float(path.close[i]), strike, 0.0, opt.RISK_FREE_RATE, 1.0)
        today = new_york_date(datetime.fromtimestamp(ts, UTC))
        values = opt.value_contracts(
            params,
            opt.UnderlyingState(spot=spot, iv=float(path.iv[session]), ts=ts),
            np.array([float(strike)]),
            np.array([expiry_ts]),
            earnings_before(params, today, [table.day(i)]),
        )
        chosen = values.put if kind == "put" else values.call
        return bs.Valuation(*(float(v[0]) for v in chosen))

    def settlement(
        self, underlying: str, expiration: date, at: datetime | None = None
    ) -> tuple[date, datetime, float] | None:
        """The expiration session of a contract and its close (time, price), once
        that close has passed at `at`; None before it. The session is the
        expiration day (the session before it when that is a holiday), its close
        16:00 ET or the early close."""
        ts = self._ts(at)
        _, table, path = self._series(underlying, ts)
        i = int(np.searchsorted(table.days, np.datetime64(expiration), side="right")) - 1
        if float(table.closes[i]) > ts:
            return None
        closes_at = datetime.fromtimestamp(float(table.closes[i]), UTC)
        return table.day(i), closes_at, float(path.close[i])

    def previous_close_time(self, at: datetime | None = None) -> datetime:
        """The close of the session before the current one (what `prev_close` refers to)."""
        ts = self._ts(at)
        table = session_table(ts)
        return datetime.fromtimestamp(float(table.closes[table.current(ts) - 1]), UTC)

    def option_mark(
        self,
        underlying: str,
        kind: bs.OptionKind,
        strike: float,
        expiration: date,
        at: datetime | None = None,
    ) -> float:
        """Mid of the listed market for the contract, else its theoretical value."""
        ts = self._ts(at)
        moment = datetime.fromtimestamp(ts, UTC)
        chain = self.get_option_chain(underlying, moment)
        for o in chain.options:
            if o.expiration == expiration and o.kind == kind and math.isclose(o.strike, strike):
                return o.mid
        return round(
            float(self.option_value(underlying, kind, strike, expiration, moment).price), 4
        )
