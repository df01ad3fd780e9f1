"""`SimulatedMarket`: quotes, candles, option chains and metrics for the simulated universe.

Every answer is a pure function of (seed, symbol, time), so two markets with
the same seed agree everywhere and a test can pin the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np

from ttai.broker.simulated import options as opt
from ttai.broker.simulated.prices import (
    DailyPath,
    SessionTable,
    daily_path,
    price_at,
    session_table,
)
from ttai.broker.simulated.universe import (
    SymbolParams,
    listed_symbols,
    stable_rng,
    symbol_params,
)
from ttai.domain.analytics import black_scholes as bs
from ttai.domain.market_calendar import new_york_date
from ttai.models.market import Candle, MarketMetrics, OptionChain, Quote

IV_RANK_SESSIONS = 252
"""IV rank and percentile look back this many sessions (one year), today included,
over the 30-day constant-maturity IV (`iv_history`)."""

EARNINGS_ANCHOR = date(2019, 1, 14)
EARNINGS_CYCLE_DAYS = 91
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
            path = self._paths[symbol] = daily_path(self.seed, params, table)
        return params, table, path

    def _spot(
        self, symbol: str, ts: float
    ) -> tuple[SymbolParams, SessionTable, DailyPath, float, int]:
        params, table, path = self._series(symbol, ts)
        price, session = price_at(self.seed, params, path, table, ts)
        return params, table, path, round(price, 2), session

    # -- stock data --------------------------------------------------------

    def get_daily_candles(self, symbol: str, days: int, at: datetime | None = None) -> list[Candle]:
        """The last `days` completed sessions, oldest first."""
        ts = self._ts(at)
        _, table, path = self._series(symbol, ts)
        end = table.last_completed(ts) + 1
        start = max(0, end - days)
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
        ]

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
        earnings = np.array(self.earnings_dates(symbol, first, last), dtype="datetime64[D]")
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

    def earnings_dates(self, symbol: str, start: date, end: date) -> list[date]:
        """Quarterly report days in [start, end] (moved to the next session); none for ETFs."""
        params = self.params(symbol)
        if params.earnings_offset is None:
            return []
        table = session_table(datetime.combine(end, datetime.min.time(), UTC).timestamp())
        first = EARNINGS_ANCHOR + timedelta(days=params.earnings_offset)
        k = max(0, (start - first).days // EARNINGS_CYCLE_DAYS - 1)
        found: list[date] = []
        while True:
            nominal = first + timedelta(days=k * EARNINGS_CYCLE_DAYS)
            i = int(np.searchsorted(table.days, np.datetime64(nominal), side="left"))
            if i >= len(table.days):
                break
            day = table.day(i)
            if day > end:
                break
            if day >= start:
                found.append(day)
            k += 1
        return found

    def next_earnings(self, symbol: str, at: datetime | None = None) -> date | None:
        today = new_york_date(datetime.fromtimestamp(self._ts(at), UTC))
        upcoming = self.earnings_dates(symbol, today, today + timedelta(days=EARNINGS_CYCLE_DAYS))
        return upcoming[0] if upcoming else None

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

    def _earnings_before(self, symbol: str, today: date, expirations: list[date]) -> np.ndarray:
        reports = self.earnings_dates(symbol, today, max(expirations)) if expirations else []
        return np.array([sum(1 for d in reports if d <= e) for e in expirations], dtype=np.float64)

    def get_option_chain(self, symbol: str, at: datetime | None = None) -> OptionChain:
        ts = self._ts(at)
        params, table, path, spot, session = self._spot(symbol, ts)
        exp_idx, monthly = opt.expiration_sessions(table, ts)
        strikes = opt.strikes_around(float(path.close[table.last_completed(ts)]))
        n_exp, n_k = len(exp_idx), len(strikes)
        exp_days = [table.day(i) for i in exp_idx]
        today = new_york_date(datetime.fromtimestamp(ts, UTC))

        grid_k = np.tile(strikes, n_exp)
        expiry_ts = np.repeat(table.closes[exp_idx], n_k)
        values = opt.value_contracts(
            params,
            opt.UnderlyingState(spot=spot, iv=float(path.iv[session]), ts=ts),
            grid_k,
            expiry_ts,
            np.repeat(self._earnings_before(symbol, today, exp_days), n_k),
        )
        t_years = (expiry_ts - ts) / opt.SECONDS_PER_YEAR
        step = opt.strike_step(float(path.close[table.last_completed(ts)]))
        round_strike = np.isclose(np.mod(grid_k + 1e-9, 5 * step), 0.0, atol=1e-6)
        is_monthly = np.repeat([i in monthly for i in exp_idx], n_k)
        # Open interest and volume change once a day, not with every quote.
        noise = np.concatenate(
            [
                stable_rng(
                    self.seed, symbol, "oi", d.isoformat(), table.day(session).isoformat()
                ).standard_normal((4, n_k))
                for d in exp_days
            ],
            axis=1,
        )

        # Greeks and IV unrounded: consumers can recompute them exactly from the inputs.
        columns: dict[str, list] = {"iv": values.iv.tolist()}
        for kind, valuation, row in (("put", values.put, 0), ("call", values.call, 1)):
            bid, ask = opt.bid_ask(valuation.price, params.liquidity)
            oi = opt.open_interest(
                params, values.moneyness, t_years, is_monthly, round_strike, noise[row]
            )
            volume = (oi * 0.1 * np.exp(0.6 * noise[row + 2])).astype(np.int64)
            columns[kind] = list(
                zip(
                    bid.tolist(),
                    ask.tolist(),
                    oi.tolist(),
                    volume.tolist(),
                    valuation.delta.tolist(),
                    valuation.gamma.tolist(),
                    valuation.theta.tolist(),
                    valuation.vega.tolist(),
                    strict=True,
                )
            )

        contracts: list[dict[str, object]] = []
        strike_list = strikes.tolist()
        strike_codes = [f"{round(k * 1000):08d}" for k in strike_list]
        for e, expiration in enumerate(exp_days):
            root = opt.occ_symbol(symbol, expiration, "put", 0.0)[:12]
            for s, strike in enumerate(strike_list):
                j = e * n_k + s
                for kind, letter in (("put", "P"), ("call", "C")):
                    bid, ask, oi, volume, delta, gamma, theta, vega = columns[kind][j]
                    contracts.append(
                        {
                            "occ_symbol": root + letter + strike_codes[s],
                            "underlying": symbol,
                            "expiration": expiration,
                            "strike": strike,
                            "kind": kind,
                            "bid": bid,
                            "ask": ask,
                            "open_interest": oi,
                            "volume": volume,
                            "implied_volatility": columns["iv"][j],
                            "delta": delta,
                            "gamma": gamma,
                            "theta": theta,
                            "vega": vega,
                        }
                    )
        # One nested validation is about twice as fast as a model per contract.
        return OptionChain.model_validate(
            {
                "underlying": symbol,
                "underlying_price": spot,
                "as_of": datetime.fromtimestamp(ts, UTC),
                "options": contracts,
            }
        )

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
            self._earnings_before(underlying, today, [table.day(i)]),
        )
        chosen = values.put if kind == "put" else values.call
        return bs.Valuation(*(float(v[0]) for v in chosen))

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
