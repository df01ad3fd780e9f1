"""`InMemoryPaperAccount`: the paper account in process memory (tests, runs without a database)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from ttai.broker.simulated.paper.account import (
    PAPER_ACCOUNT,
    after_delivery,
    check_trade,
    closing_fill,
    merge_trade,
    opening_fill,
    settlement,
    trade_value,
)
from ttai.broker.simulated.paper.seed import default_portfolio, opening_cash
from ttai.models.market import Fill, OptionEvent, Position

if TYPE_CHECKING:
    from ttai.broker.simulated.market import SimulatedMarket


class InMemoryPaperAccount:
    """A paper account in process memory (tests, and runs without a database)."""

    def __init__(self, account_number: str = PAPER_ACCOUNT) -> None:
        self.account_number = account_number
        self._cash: float | None = None
        self._positions: dict[str, Position] = {}
        self._fills: list[Fill] = []
        self._events: list[OptionEvent] = []
        self._lock = asyncio.Lock()

    async def seed_if_empty(self, market: SimulatedMarket, now: datetime) -> bool:
        async with self._lock:
            if self._cash is not None:
                return False
            positions = default_portfolio(market, now, self.account_number)
            self._positions = {p.symbol: p for p in positions}
            self._fills = [opening_fill(p, now) for p in positions]
            self._cash = opening_cash(positions)
            return True

    async def get_positions(self) -> list[Position]:
        return list(self._positions.values())

    async def get_cash(self) -> float:
        return self._cash or 0.0

    async def get_fills(self, since: datetime) -> list[Fill]:
        return sorted(
            (f for f in self._fills if f.executed_at >= since), key=lambda f: f.executed_at
        )

    def _seeded_cash(self) -> float:
        if self._cash is None:
            raise LookupError(f"paper account {self.account_number} is not seeded")
        return self._cash

    async def open_position(self, position: Position, *, at: datetime) -> None:
        check_trade(self.account_number, position)
        fill = opening_fill(position, at)
        async with self._lock:
            cash = self._seeded_cash()
            self._positions[position.symbol] = merge_trade(
                self._positions.get(position.symbol), position
            )
            self._fills.append(fill)
            self._cash = cash - trade_value(position)

    async def close_position(self, symbol: str, price: float, *, at: datetime) -> Position:
        async with self._lock:
            cash = self._seeded_cash()
            closed = self._positions.get(symbol)
            if closed is None:
                raise KeyError(f"no open position in {symbol}")
            fill = closing_fill(closed, price, at)
            del self._positions[symbol]
            self._fills.append(fill)
            self._cash = cash + closed.quantity * price * closed.multiplier
            return closed

    async def settle(self, market: SimulatedMarket, now: datetime) -> list[OptionEvent]:
        async with self._lock:
            if self._cash is None:
                return []
            settled = []
            for option in sorted(self._positions.values(), key=lambda p: p.symbol):
                if option.instrument != "option" or option.expiration is None:
                    continue
                closed = market.settlement(option.underlying, option.expiration, now)
                if closed is None:
                    continue
                event = settlement(option, closed[2], closed[0], closed[1])
                del self._positions[option.symbol]
                if event.shares:
                    stock = after_delivery(self._positions.get(event.underlying), event)
                    self._positions.pop(event.underlying, None)
                    if stock is not None:
                        self._positions[event.underlying] = stock
                self._cash += event.cash
                self._events.append(event)
                settled.append(event)
            return settled

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        return sorted(
            (e for e in self._events if e.occurred_at >= since), key=lambda e: e.occurred_at
        )
