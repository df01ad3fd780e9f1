"""SDK objects to the project's market models: symbols, numbers and scales.

Unknown stays unknown. `num` gives None, never 0, when no value is present and
finite, and each field says what None becomes:
- IV rank, IV percentile, IV, beta, liquidity rating, an option's IV and
  greeks, its open interest and volume: None (the models allow it);
- a stock quote's bid, ask and last: the mark when missing; with no price at all
  the quote cannot be read (`to_quote` raises, the symbol is skipped);
- a previous close: 0, the documented "none" of `Quote.prev_close` and
  `Position.prev_close` (no price is 0; day P&L reads it as unknown);
- an option's bid: 0 when missing ("no bid": not sellable); a missing ask makes
  the contract unreadable (`chains` lists it as missing);
- a position's mark: its close price when the marks are missing, unreadable
  (skipped) with neither;
- the dividend yield: 0, the model's "none or unknown" (POP is then computed
  without a dividend, about a point high at a 3 % yield).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from tastytrade.account import AccountBalance, CurrentPosition, Transaction
from tastytrade.dxfeed import Event, Greeks, Summary
from tastytrade.dxfeed import Quote as DXQuote
from tastytrade.market_data import MarketData
from tastytrade.metrics import MarketMetricInfo
from tastytrade.order import InstrumentType

from ttai.broker.tastytrade.contracts import Contract
from ttai.models.market import (
    Balances,
    Fill,
    MarketMetrics,
    OptionEvent,
    OptionEventKind,
    OptionQuote,
    Position,
    Quote,
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


def num(*values: Decimal | int | None) -> float | None:
    """The first value that is present and finite; None when there is none."""
    for value in values:
        if value is not None and math.isfinite(float(value)):
            return float(value)
    return None


def positive(*values: Decimal | int | None) -> float | None:
    """The first value that is present, finite and above 0 (a price); else None."""
    for value in values:
        number = num(value)
        if number is not None and number > 0:
            return number
    return None


def mark(data: MarketData) -> float | None:
    """The stock's price now: mark, mid, last, else the previous close; None with none."""
    mid = (data.bid + data.ask) / 2 if data.bid and data.ask else None
    return positive(data.mark, data.mid, mid, data.last, data.prev_close)


def to_quote(symbol: str, data: MarketData) -> Quote:
    """Raises ValueError when the data holds no price at all."""
    price = mark(data)
    if price is None:
        raise ValueError(f"no price for {symbol}")
    return Quote(
        symbol=symbol,
        bid=positive(data.bid) or price,
        ask=positive(data.ask) or price,
        last=positive(data.last) or price,
        prev_close=positive(data.prev_close, data.prev_day_close, data.close) or 0.0,
        time=data.updated_at,
    )


def to_option_quote(
    underlying: str, contract: Contract, quote: DXQuote, greek: Greeks, summary: Event | None
) -> OptionQuote:
    """Raises ValueError when the quote has no ask (no market to read)."""
    ask = num(quote.ask_price)
    if ask is None:
        raise ValueError(f"no ask for {contract.occ}")
    summary = summary if isinstance(summary, Summary) else None
    # Summary carries the previous session's volume; there is no intraday one.
    volume = num(summary.prev_day_volume) if summary is not None else None
    iv = num(greek.volatility)
    return OptionQuote(
        occ_symbol=contract.occ,
        underlying=underlying,
        expiration=contract.expiration,
        strike=contract.strike,
        kind=contract.kind,
        bid=num(quote.bid_price) or 0.0,  # no bid
        ask=ask,
        open_interest=summary.open_interest if summary is not None else None,
        volume=int(volume) if volume is not None else None,
        implied_volatility=iv if iv is not None and iv > 0 else None,  # 0 is no IV at all
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
    100) and the next rank field is read; with none readable the rank is unknown
    (None), as are a missing percentile, IV, beta and liquidity rating. An ignored
    or missing dividend yield is 0, the model's "none or unknown".
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

    rank = next((r for r in map(fraction, _RANK_FIELDS) if r is not None), None)
    percentile = fraction("implied_volatility_percentile")
    iv = positive(info.implied_volatility_index)
    if iv is None and (iv_30 := positive(info.implied_volatility_30_day)) is not None:
        iv = iv_30 / 100
    liquidity = info.liquidity_rating
    earnings = info.earnings.expected_report_date if info.earnings else None
    metrics = MarketMetrics(
        symbol=symbol,
        iv_rank=None if rank is None else round(rank * 100, 4),
        iv_percentile=None if percentile is None else round(percentile * 100, 4),
        implied_volatility=iv,
        liquidity_rating=None if liquidity is None else min(max(liquidity, 0), 5),
        beta=num(info.beta),
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
        "mark": _position_mark(p),
        "prev_close": positive(p.close_price) or 0.0,
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


def _position_mark(p: CurrentPosition) -> float:
    """The marks, else the close price; a position with neither cannot be read."""
    found = num(p.mark_price, p.mark, p.close_price)
    if found is None:
        raise ValueError("a position without a mark or a close price")
    return found


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


_SETTLEMENTS: dict[str, OptionEventKind] = {
    "Expiration": "expired",
    "Assignment": "assigned",
    "Exercise": "exercised",
}


def to_option_event(t: Transaction) -> OptionEvent | None:
    """An option's expiration, assignment or exercise in the transaction history
    as an `OptionEvent`; None for any other entry. Raises ValueError for one
    without a usable OCC symbol or quantity, or an expiration that does not say
    which side it closed.

    The history lists it as a "Receive Deliver" entry of sub-type Expiration,
    Assignment or Exercise on the option ("Removal of option due to ..."): its
    quantity is unsigned and its action closes the position ("Buy to Close" for
    a short one). Only a short option is assigned and only a long one
    exercised, so their side is known without the action. The shares come from
    the contract (100 a contract at the strike: a call buys them for its holder,
    a put sells them), as the stock entry beside it lists them; the history does
    not say at which underlying price it settled.
    """
    kind = _SETTLEMENTS.get(t.transaction_sub_type)
    if t.transaction_type != "Receive Deliver" or kind is None:
        return None
    if t.instrument_type != InstrumentType.EQUITY_OPTION:
        return None  # cash-settled index options and futures are outside the models
    tail = _OCC_TAIL.fullmatch((t.symbol or "")[-_OCC_TAIL_LENGTH:])
    if tail is None or t.quantity is None:
        raise ValueError("an option settlement without an OCC symbol or a quantity")
    contracts = abs(float(t.quantity))
    if not (math.isfinite(contracts) and contracts > 0):
        raise ValueError("an option settlement without a positive quantity")
    if t.action is not None:
        quantity = -t.action.multiplier * contracts  # closing: Buy to Close ends a short
    elif kind == "expired":
        raise ValueError("an expiration that does not say which side it closed")
    else:
        quantity = -contracts if kind == "assigned" else contracts
    expiration, flag, strike_code = tail.groups()
    option_kind: Literal["put", "call"] = "put" if flag == "P" else "call"
    strike = int(strike_code) / 1000
    shares = 0.0
    if kind != "expired":
        direction = 1 if option_kind == "call" else -1
        shares = direction * quantity * STANDARD_OPTION_MULTIPLIER
    return OptionEvent(
        account=t.account_number,
        kind=kind,
        symbol=t.symbol,
        underlying=project_symbol(t.underlying_symbol or t.symbol[:6].strip()),
        option_kind=option_kind,
        strike=strike,
        expiration=datetime.strptime(expiration, "%y%m%d").date(),
        quantity=quantity,
        multiplier=STANDARD_OPTION_MULTIPLIER,
        shares=shares,
        price=strike if shares else 0.0,
        settlement_price=None,
        day=t.transaction_date,
        occurred_at=t.executed_at,
    )
