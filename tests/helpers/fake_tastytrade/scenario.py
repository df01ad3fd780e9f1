"""What the fake tastytrade serves, held as the project's own market models.

Tests compare the adapter's output with these models field by field, so the
fake renders them into the API's shapes losslessly (decimals as `str(float)`).
A scenario comes either from another broker (the simulated market, so an
analysis over the fake gives meaningful numbers) or from `small()`, a fixed
two-symbol market for fast unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.helpers.portfolio import shares
from ttai.broker.base import Broker
from ttai.domain.analytics.black_scholes import evaluate
from ttai.models.market import (
    Account,
    Balances,
    Candle,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionEvent,
    OptionQuote,
    Position,
    Quote,
)

NEW_YORK = ZoneInfo("America/New_York")


def tt_symbol(symbol: str) -> str:
    return symbol.replace(".", "/")


def occ_symbol(underlying: str, expiration: date, kind: str, strike: float) -> str:
    """OCC 2010: root padded to 6, YYMMDD, C/P, strike x 1000 in 8 digits."""
    root = tt_symbol(underlying)
    flag = "P" if kind == "put" else "C"
    return f"{root:<6}{expiration:%y%m%d}{flag}{round(strike * 1000):08d}"


def streamer_symbol(underlying: str, expiration: date, kind: str, strike: float) -> str:
    """dxFeed option symbol: .ROOTYYMMDD[C|P]STRIKE, strike without trailing zeros."""
    flag = "P" if kind == "put" else "C"
    text = f"{strike:.0f}" if strike == int(strike) else f"{strike:.2f}".rstrip("0")
    return f".{tt_symbol(underlying)}{expiration:%y%m%d}{flag}{text}"


def day_start_ms(day: date) -> int:
    """dxFeed stamps a daily candle with midnight of its session day, New York time."""
    return int(datetime.combine(day, time(), NEW_YORK).timestamp() * 1000)


@dataclass
class Scenario:
    now: datetime
    quotes: dict[str, Quote]
    candles: dict[str, list[Candle]] = field(default_factory=dict)
    chains: dict[str, OptionChain] = field(default_factory=dict)
    metrics: dict[str, MarketMetrics] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    balances: list[Balances] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)  # the transaction history's trades
    # Its "Receive Deliver" entries: each option removal, and the stock it moved.
    option_events: list[OptionEvent] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.now.astimezone(NEW_YORK).date()

    @classmethod
    async def from_broker(
        cls, source: Broker, symbols: Sequence[str], candle_days: int = 300
    ) -> Scenario:
        """Everything `source` says about `symbols` and its accounts."""
        return cls(
            now=await source.now(),
            quotes=await source.get_quotes(symbols),
            candles={s: await source.get_daily_candles(s, candle_days) for s in symbols},
            chains={s: await source.get_option_chain(s) for s in symbols},
            metrics=await source.get_market_metrics(symbols),
            accounts=await source.get_accounts(),
            positions=await source.get_positions(),
            balances=await source.get_balances(),
        )

    @classmethod
    def small(cls, now: datetime | None = None) -> Scenario:
        """Two symbols with 40 days of candles and Black-Scholes chains."""
        now = now or datetime.now(UTC).replace(microsecond=0)
        today = now.astimezone(NEW_YORK).date()
        specs = {"AAPL": (230.0, 0.30), "BRK.B": (470.0, 0.18)}
        quotes, candles, chains, metrics = {}, {}, {}, {}
        for n, (symbol, (spot, vol)) in enumerate(specs.items()):
            quotes[symbol] = Quote(
                symbol=symbol,
                bid=spot - 0.05,
                ask=spot + 0.05,
                last=spot + 0.01,
                prev_close=spot - 1.25,
                time=now,
            )
            days = [today - timedelta(days=d) for d in range(56, 0, -1)]
            sessions = [d for d in days if d.weekday() < 5][-40:]
            candles[symbol] = [
                Candle(
                    day=d,
                    open=spot - 2 + i * 0.05,
                    high=spot + 1 + i * 0.05,
                    low=spot - 3 + i * 0.05,
                    close=spot - 1 + i * 0.05,
                    volume=1_000_000 + i * 1000,
                )
                for i, d in enumerate(sessions)
            ]
            options = []
            for dte in (14, 35, 42):
                expiration = today + timedelta(days=dte)
                for strike in (round(spot * m / 5) * 5 for m in (0.85, 0.9, 0.95, 1.0, 1.05)):
                    for kind in ("put", "call"):
                        v = evaluate(kind, spot, strike, dte / 365, 0.04, vol)
                        mid = round(float(v.price), 2)
                        options.append(
                            OptionQuote(
                                occ_symbol=occ_symbol(symbol, expiration, kind, strike),
                                underlying=symbol,
                                expiration=expiration,
                                strike=float(strike),
                                kind=kind,
                                bid=max(round(mid - 0.05, 2), 0.0),
                                ask=round(mid + 0.05, 2),
                                open_interest=500 + strike,
                                volume=100 + dte,
                                implied_volatility=vol,
                                delta=round(float(v.delta), 6),
                                gamma=round(float(v.gamma), 6),
                                theta=round(float(v.theta), 6),
                                vega=round(float(v.vega), 6),
                            )
                        )
            chains[symbol] = OptionChain(
                underlying=symbol, underlying_price=spot, as_of=now, options=options
            )
            metrics[symbol] = MarketMetrics(
                symbol=symbol,
                iv_rank=42.5 + n,
                iv_percentile=61.25 + n,
                implied_volatility=vol,
                liquidity_rating=4 - n,
                beta=1.2 - n * 0.3,
                next_earnings=today + timedelta(days=20) if n == 0 else None,
                dividend_yield=0.0045 if n == 0 else 0.0,  # Berkshire pays none
            )
        put = chains["AAPL"].options[2]  # a 14-DTE put, short one contract
        return cls(
            now=now,
            quotes=quotes,
            candles=candles,
            chains=chains,
            metrics=metrics,
            accounts=[
                Account(account_number="5WT00012", nickname="Main"),
                Account(account_number="5WT00034", nickname="IRA"),
            ],
            positions=[
                shares(
                    "AAPL",
                    100,
                    180.5,
                    account="5WT00012",
                    mark=quotes["AAPL"].mark,
                    prev_close=quotes["AAPL"].prev_close,
                    delta=1.0,
                ),
                Position(
                    account="5WT00012",
                    symbol=put.occ_symbol,
                    underlying="AAPL",
                    instrument="option",
                    quantity=-1,
                    average_open_price=2.35,
                    multiplier=100,
                    mark=put.mid,
                    prev_close=round(put.mid + 0.4, 2),
                    option_kind="put",
                    strike=put.strike,
                    expiration=put.expiration,
                    delta=put.delta,
                ),
            ],
            balances=[
                Balances(
                    account="5WT00012",
                    cash=25_000.5,
                    net_liquidating_value=48_123.75,
                    buying_power=20_000.0,
                    maintenance_requirement=8_100.0,
                ),
                Balances(
                    account="5WT00034",
                    cash=1_000.0,
                    net_liquidating_value=1_000.0,
                    buying_power=1_000.0,
                    maintenance_requirement=0.0,
                ),
            ],
        )
