"""What a paper account is: the `PaperAccount` protocol and the rules every store applies.

A trade must belong to the account, move a non-zero quantity and carry its
instrument's multiplier; adding to a position averages its open price (only
in the same direction: closing is separate); each trade leaves a `Fill` at an
aware time. The stores (`memory`, `postgres`) keep positions, cash and fills
and call these rules, so the two behave alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from ttai.models.market import Fill, Position

if TYPE_CHECKING:
    from ttai.broker.simulated.market import SimulatedMarket

PAPER_ACCOUNT = "SIM-0001"
OPTION_MULTIPLIER = 100


class PaperAccount(Protocol):
    """What `SimulatedBroker` and tests need from a paper account."""

    account_number: str

    async def seed_if_empty(self, market: SimulatedMarket, now: datetime) -> bool:
        """Create the default portfolio unless the account exists; True when created."""
        ...

    async def get_positions(self) -> list[Position]: ...

    async def get_cash(self) -> float: ...

    async def open_position(self, position: Position, *, at: datetime) -> None:
        """Add a trade at `position.average_open_price`, executed `at`; cash moves
        by its value."""
        ...

    async def close_position(self, symbol: str, price: float, *, at: datetime) -> Position:
        """Close the whole position at `price`, executed `at`; returns what was closed."""
        ...

    async def get_fills(self, since: datetime) -> list[Fill]:
        """Every trade (seeding included) executed at or after `since`, oldest first."""
        ...


def multiplier(instrument: Literal["equity", "option"]) -> int:
    return OPTION_MULTIPLIER if instrument == "option" else 1


def merge_trade(existing: Position | None, trade: Position) -> Position:
    """The position after `trade`. Only adds in the same direction (closing is separate)."""
    if existing is None:
        return trade
    if (existing.quantity > 0) != (trade.quantity > 0):
        raise ValueError(f"{trade.symbol}: reducing a position goes through close_position")
    quantity = existing.quantity + trade.quantity
    cost = (
        existing.quantity * existing.average_open_price + trade.quantity * trade.average_open_price
    )
    return existing.model_copy(
        update={"quantity": quantity, "average_open_price": round(cost / quantity, 6)}
    )


def check_trade(account: str, position: Position) -> None:
    if position.account != account:
        raise ValueError(f"position belongs to {position.account!r}, not {account!r}")
    if position.quantity == 0:
        raise ValueError("a trade needs a non-zero quantity")
    if position.multiplier != multiplier(position.instrument):
        raise ValueError(
            f"{position.instrument} multiplier must be {multiplier(position.instrument)}"
        )


def trade_value(position: Position) -> float:
    return position.quantity * position.average_open_price * position.multiplier


def _fill(position: Position, quantity: float, price: float, at: datetime) -> Fill:
    if at.tzinfo is None:
        raise ValueError(f"a fill needs an aware time, got naive {at.isoformat()}")
    return Fill(
        account=position.account,
        symbol=position.symbol,
        underlying=position.underlying,
        instrument=position.instrument,
        quantity=quantity,
        price=price,
        multiplier=position.multiplier,
        executed_at=at,
    )


def opening_fill(position: Position, at: datetime) -> Fill:
    return _fill(position, position.quantity, position.average_open_price, at)


def closing_fill(closed: Position, price: float, at: datetime) -> Fill:
    return _fill(closed, -closed.quantity, price, at)
