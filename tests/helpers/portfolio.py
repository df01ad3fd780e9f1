"""A short put, shares and one account's balances, for the portfolio view's tests
and its workflow's recorder; `shares(...)`, a stock position for any test."""

from __future__ import annotations

from datetime import date
from typing import Any

from ttai.models.market import Balances, Position

SHORT_PUT = Position(
    account="5WT00012", symbol="AAPL  261218P00180000", underlying="AAPL", instrument="option",
    quantity=-1, average_open_price=3.0, multiplier=100, mark=2.5, prev_close=2.6,
    option_kind="put", strike=180, expiration=date(2026, 12, 18), delta=-0.21,
)  # fmt: skip
SHARES = Position(
    account="5WT00012", symbol="KO", underlying="KO", instrument="equity", quantity=200,
    average_open_price=55.0, mark=56.0, prev_close=0.0, delta=1.0,
)  # fmt: skip
BALANCES = Balances(
    account="5WT00012", cash=50_000, net_liquidating_value=60_950, buying_power=31_750,
    maintenance_requirement=18_000,
)  # fmt: skip


def shares(
    symbol: str, quantity: float, price: float, *, account: str = "A1", **fields: Any
) -> Position:
    """`quantity` shares of `symbol` opened at `price`; other Position fields
    (mark, delta, ...) by keyword."""
    return Position(
        account=account,
        symbol=symbol,
        underlying=symbol,
        instrument="equity",
        quantity=quantity,
        average_open_price=price,
        **fields,
    )
