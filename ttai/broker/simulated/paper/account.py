"""What a paper account is: the `PaperAccount` protocol and the rules every store applies.

A trade must belong to the account, move a non-zero quantity and carry its
instrument's multiplier; adding to a position averages its open price (only
in the same direction: closing is separate); each trade leaves a `Fill` at an
aware time. The stores (`memory`, `postgres`) keep positions, cash, fills and
option events and call these rules, so the two behave alike.

Options settle at the close of their expiration day (`settlement`: 16:00 ET,
or the early close), against that close, as OCC settles them:
- out of the money, or in by less than $0.01: it expires worthless;
- a short one $0.01 or more in the money is assigned: a put buys 100 shares a
  contract at the strike, a call sells them (from the shares held, else short);
- a long one $0.01 or more in the money is exercised (exercise by exception):
  a call buys the shares at the strike, a put sells them.
The option leaves the account, the shares move at the strike, the cash moves
by their value and an `OptionEvent` records it, once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from ttai.models.market import Fill, OptionEvent, Position

if TYPE_CHECKING:
    from ttai.broker.simulated.market import SimulatedMarket

PAPER_ACCOUNT = "SIM-0001"
OPTION_MULTIPLIER = 100
EXERCISE_BY_EXCEPTION = 0.01
"""OCC exercises a long option automatically when it is this much or more in the money."""
_FLAT = 1e-9


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

    async def settle(self, market: SimulatedMarket, now: datetime) -> list[OptionEvent]:
        """Settle every option whose expiration close has passed at `now` (see the
        module docstring); returns what it settled now (a second call settles nothing)."""
        ...

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        """Every settlement that occurred at or after `since`, oldest first."""
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


def settlement(position: Position, close: float, day: date, at: datetime) -> OptionEvent:
    """What the option `position` becomes at its expiration close `close` (the
    session `day`, closing `at`): see the module docstring."""
    if not (position.option_kind and position.strike is not None and position.expiration):
        raise ValueError(f"option position {position.symbol} lacks its contract details")
    strike = position.strike
    in_the_money = round((strike - close) if position.option_kind == "put" else (close - strike), 2)
    common = {
        "account": position.account,
        "symbol": position.symbol,
        "underlying": position.underlying,
        "option_kind": position.option_kind,
        "strike": strike,
        "expiration": position.expiration,
        "quantity": position.quantity,
        "multiplier": position.multiplier,
        "settlement_price": close,
        "day": day,
        "occurred_at": at,
    }
    if in_the_money < EXERCISE_BY_EXCEPTION:
        return OptionEvent(kind="expired", **common)
    # A call buys the shares for its holder, a put sells them: the short side
    # does the opposite.
    direction = 1 if position.option_kind == "call" else -1
    return OptionEvent(
        kind="assigned" if position.quantity < 0 else "exercised",
        shares=direction * position.quantity * position.multiplier,
        price=strike,
        **common,
    )


def after_delivery(held: Position | None, event: OptionEvent) -> Position | None:
    """The stock position after `event`'s shares moved at its price: opened,
    added to (the open price averaged), reduced (kept), closed (None) or turned
    around (the rest opened at the strike)."""
    shares = event.shares
    if held is None:
        return Position(
            account=event.account,
            symbol=event.underlying,
            underlying=event.underlying,
            instrument="equity",
            quantity=shares,
            average_open_price=event.price,
        )
    quantity = held.quantity + shares
    if abs(quantity) < _FLAT:
        return None
    if (held.quantity > 0) == (shares > 0):
        return merge_trade(
            held, held.model_copy(update={"quantity": shares, "average_open_price": event.price})
        )
    if (quantity > 0) == (held.quantity > 0):
        return held.model_copy(update={"quantity": quantity})
    return held.model_copy(update={"quantity": quantity, "average_open_price": event.price})
