"""SDK objects to the project's market models: symbols, numbers and scales."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from tastytrade.account import AccountBalance, CurrentPosition, Transaction
from tastytrade.dxfeed import Event, Greeks, Summary, Trade
from tastytrade.dxfeed import Quote as DXQuote
from tastytrade.market_data import MarketData
from tastytrade.metrics import MarketMetricInfo
from tastytrade.order import InstrumentType

from ttai.broker.tastytrade.contracts import Contract
from ttai.models.market import (
    Balances,
    Fill,
    MarketMetrics,
    OptionQuote,
    Position,
    Quote,
    Tick,
)

_OCC_TAIL_LENGTH = 15  # YYMMDD + C/P + strike x 1000 in 8 digits


def tt_symbol(symbol: str) -> str:
    """Project symbols use BRK.B; tastytrade lists class shares as BRK/B."""
    return symbol.replace(".", "/")


def project_symbol(symbol: str) -> str:
    """tastytrade's BRK/B as the project writes it, BRK.B."""
    return symbol.replace("/", ".")


def unique(symbols: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(symbols))


def num(*values: Decimal | int | None) -> float:
    """The first value that is present and finite, else 0."""
    for value in values:
        if value is not None and math.isfinite(float(value)):
            return float(value)
    return 0.0


def mark(data: MarketData) -> float:
    mid = (data.bid + data.ask) / 2 if data.bid and data.ask else None
    return num(data.mark, data.mid, mid, data.last, data.prev_close)


def to_quote(symbol: str, data: MarketData) -> Quote:
    price = mark(data)
    return Quote(
        symbol=symbol,
        bid=num(data.bid, price),
        ask=num(data.ask, price),
        last=num(data.last, price),
        prev_close=num(data.prev_close, data.prev_day_close, data.close),
        time=data.updated_at,
    )


def _price(value: Decimal | None) -> float | None:
    """A streamed price, or None when the event has none (NaN, zero, missing)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


class TickBuilder:
    """Streamed `Quote` and `Trade` events of one symbol into ticks: `last` is the
    latest trade's price (what a polled quote's `last` is), bid and ask the latest
    quote's. No tick before the first trade: a mid-price stand-in could cross a
    level the trades never did (the feed sends a trade snapshot on subscribing)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bid: float | None = None
        self._ask: float | None = None
        self._trade: float | None = None

    def take(self, event: Event, at: datetime) -> Tick | None:
        """The tick after `event` arrived at `at`; None while no trade is known."""
        if isinstance(event, DXQuote):
            self._bid, self._ask = _price(event.bid_price), _price(event.ask_price)
        elif isinstance(event, Trade):
            self._trade = _price(event.price) or self._trade
        if self._trade is None:
            return None
        return Tick(
            symbol=self.symbol,
            bid=self._bid or self._trade,
            ask=self._ask or self._trade,
            last=self._trade,
            time=at,
        )


def to_option_quote(
    underlying: str, contract: Contract, quote: DXQuote, greek: Greeks, summary: Event | None
) -> OptionQuote:
    return OptionQuote(
        occ_symbol=contract.occ,
        underlying=underlying,
        expiration=contract.expiration,
        strike=contract.strike,
        kind=contract.kind,
        bid=num(quote.bid_price),
        ask=num(quote.ask_price),
        open_interest=summary.open_interest if isinstance(summary, Summary) else 0,
        # Summary carries the previous session's volume; there is no intraday one.
        volume=int(num(summary.prev_day_volume)) if isinstance(summary, Summary) else 0,
        implied_volatility=num(greek.volatility),
        delta=num(greek.delta),
        gamma=num(greek.gamma),
        theta=num(greek.theta),
        vega=num(greek.vega),
    )


# The rank fields in the order they are read: the rank tastytrade shows (its source
# is named by `implied-volatility-index-rank-source`), then each source's own.
_RANK_FIELDS = (
    "implied_volatility_index_rank",
    "tos_implied_volatility_index_rank",
    "tw_implied_volatility_index_rank",
)


def to_metrics(symbol: str, info: MarketMetricInfo) -> tuple[MarketMetrics, list[str]]:
    """The metrics, and the API fields that were present but not 0-1 fractions.

    Scales (the SDK's model, tastytrade's docs example and captured responses
    agree): IV rank, its tos/tw variants and IV percentile are 0-1 fractions (rank
    and percentile as strings); the IV index is a fraction; the 30-day IV is in
    percent. The project's model holds rank and percentile as 0-100.

    The annual dividend yield is a 0-1 fraction as well, as the model holds it.
    The SDK types it as a bare decimal and the developer docs leave it out, but a
    captured AAPL response (June 2023) sends "0.006396146" beside a quarterly
    $0.24 a share: 0.64 %, where a percentage would price AAPL at $15,000.

    A value outside 0-1 is not a fraction: it is ignored (never clamped to 0 or
    100) and the next rank field is read; with none readable the rank is 0, which
    reads as low IV, so no put is sold on a rank nobody could read. An ignored or
    missing dividend yield is 0, the model's "none or unknown" (the POP of before).
    """
    ignored: list[str] = []

    def fraction(name: str) -> float | None:
        value = getattr(info, name)
        if value is None or value == "":
            return None
        number = _fraction(value)
        if number is None:
            ignored.append(name.replace("_", "-"))
        return number

    rank = next((r for r in map(fraction, _RANK_FIELDS) if r is not None), 0.0)
    percentile = fraction("implied_volatility_percentile") or 0.0
    iv = num(info.implied_volatility_index)
    if not iv and info.implied_volatility_30_day is not None:
        iv = float(info.implied_volatility_30_day) / 100
    earnings = info.earnings.expected_report_date if info.earnings else None
    metrics = MarketMetrics(
        symbol=symbol,
        iv_rank=round(rank * 100, 4),
        iv_percentile=round(percentile * 100, 4),
        implied_volatility=iv,
        liquidity_rating=min(max(info.liquidity_rating or 0, 0), 5),
        # A missing beta is read as the market's own (1.0) rather than as no risk.
        beta=num(info.beta, 1),
        next_earnings=earnings,
        dividend_yield=fraction("dividend_yield") or 0.0,
    )
    return metrics, ignored


def _fraction(value: str | Decimal) -> float | None:
    """A 0-1 value from the API (a string or a decimal); None when it is not one."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0.0 <= number <= 1.0 else None


def to_balances(b: AccountBalance) -> Balances:
    return Balances(
        account=b.account_number,
        cash=float(b.cash_balance),
        net_liquidating_value=float(b.net_liquidating_value),
        # Option buying power: what a cash-secured put consumes.
        buying_power=float(b.derivative_buying_power),
        maintenance_requirement=float(b.maintenance_requirement),
    )


# OCC 2010 after the root: YYMMDD, C/P, strike x 1000 in 8 digits.
_OCC_TAIL = re.compile(r"(\d{6})([CP])(\d{8})")


def to_position(p: CurrentPosition) -> Position:
    """An equity or equity-option position (delta 1 for stock; an option's comes
    from the streamer, see `with_greek`). Raises ValueError for anything else or
    an option symbol that is not OCC."""
    if p.instrument_type not in ("Equity", "Equity Option"):
        raise ValueError(f"not an equity or equity option: {p.instrument_type}")
    sign = -1 if p.quantity_direction == "Short" else 1
    common: dict[str, Any] = {
        "account": p.account_number,
        "symbol": p.symbol,
        "underlying": project_symbol(p.underlying_symbol),
        "quantity": sign * abs(float(p.quantity)),
        "average_open_price": float(p.average_open_price),
        "multiplier": int(p.multiplier),
        "mark": num(p.mark_price, p.mark, p.close_price),
        "prev_close": float(p.close_price),
    }
    if p.instrument_type == "Equity":
        return Position(instrument="equity", delta=1.0, **common)
    tail = _OCC_TAIL.fullmatch(p.symbol[-_OCC_TAIL_LENGTH:])
    if tail is None:
        raise ValueError("not an OCC option symbol")
    expiration, flag, strike = tail.groups()
    return Position(
        instrument="option",
        option_kind="put" if flag == "P" else "call",
        strike=int(strike) / 1000,
        expiration=datetime.strptime(expiration, "%y%m%d").date(),
        **common,
    )


def with_greek(position: Position, greek: Event | None) -> Position:
    """An option position with the per-contract delta from its `Greeks` event."""
    if position.instrument != "option" or not isinstance(greek, Greeks):
        return position
    if greek.delta is None or not math.isfinite(delta := float(greek.delta)):
        return position  # no delta rather than a made-up one
    return position.model_copy(update={"delta": delta})


STANDARD_OPTION_MULTIPLIER = 100
_FILL_INSTRUMENTS: dict[InstrumentType | None, Literal["equity", "option"]] = {
    InstrumentType.EQUITY: "equity",
    InstrumentType.EQUITY_OPTION: "option",
}


def to_fill(t: Transaction) -> Fill | None:
    """A trade of the transaction history as a fill; None for anything else
    (money movements, receive/deliver entries such as assignments and
    expirations, other instruments). Raises ValueError for a trade without a
    usable symbol, action, quantity or price.

    The history's quantity is unsigned (shares or contracts): the sign comes from
    the action (Buy... +, Sell... -). Its price is per share, also for options
    ("Sold 40 ... Call @ 0.47" has value 40 x 0.47 x 100); an option's
    multiplier is what its value says (value / (price x quantity)), 100 when the
    value cannot tell (a zero price).
    """
    if t.transaction_type != "Trade" or t.instrument_type not in _FILL_INSTRUMENTS:
        return None
    if not t.symbol or t.action is None or t.quantity is None or t.price is None:
        raise ValueError("a trade without symbol, action, quantity or price")
    quantity, price = float(t.quantity), float(t.price)
    if not (math.isfinite(quantity) and quantity > 0 and math.isfinite(price) and price >= 0):
        raise ValueError("a trade without a positive quantity and a price")
    instrument = _FILL_INSTRUMENTS[t.instrument_type]
    multiplier = 1
    if instrument == "option":
        multiplier = STANDARD_OPTION_MULTIPLIER
        implied = abs(float(t.value)) / (price * quantity) if price else 0.0
        if implied >= 1 and abs(implied - round(implied)) < 0.01:
            multiplier = round(implied)
    return Fill(
        account=t.account_number,
        symbol=t.symbol,
        underlying=project_symbol(t.underlying_symbol or t.symbol),
        instrument=instrument,
        quantity=t.action.multiplier * quantity,
        price=price,
        multiplier=multiplier,
        executed_at=t.executed_at,
    )
