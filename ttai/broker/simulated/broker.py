"""`SimulatedBroker`: the `Broker` interface over the simulated market and a paper account."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from ttai.broker.records import read_each
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.account import PaperAccount
from ttai.models.market import (
    Account,
    Balances,
    Candle,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionEvent,
    Position,
    Quote,
)

# Maintenance requirement, a margin account's usual rules:
# long stock 25 % and short stock 30 % of market value; long options are paid
# in full (0); a short option needs its current value plus the CBOE naked
# minimum, max(20 % of the underlying - out-of-the-money amount, 10 % of the
# strike for puts / of the underlying for calls), per share of the contract.
LONG_STOCK_REQUIREMENT = 0.25
SHORT_STOCK_REQUIREMENT = 0.30
NAKED_UNDERLYING_SHARE = 0.20
NAKED_MINIMUM_SHARE = 0.10


def maintenance_requirement(position: Position, underlying_price: float) -> float:
    """Requirement of one marked position (see the module constants for the rule)."""
    if position.instrument == "equity":
        share = LONG_STOCK_REQUIREMENT if position.quantity > 0 else SHORT_STOCK_REQUIREMENT
        return share * abs(position.quantity) * position.mark
    if position.quantity > 0 or position.strike is None:
        return 0.0
    s, k = underlying_price, position.strike
    if position.option_kind == "put":
        out_of_money, floor = max(s - k, 0.0), NAKED_MINIMUM_SHARE * k
    else:
        out_of_money, floor = max(k - s, 0.0), NAKED_MINIMUM_SHARE * s
    per_share = position.mark + max(NAKED_UNDERLYING_SHARE * s - out_of_money, floor)
    return per_share * position.multiplier * abs(position.quantity)


class SimulatedBroker:
    """Market data from `SimulatedMarket`, positions and cash from a paper account.

    Everything is cheap CPU work. `latency` (seconds, default none;
    TTAI_SIMULATED_LATENCY_MS) makes each market-data call wait that long
    first, as a real broker's round trip would.
    """

    name = "simulated"

    def __init__(
        self, market: SimulatedMarket, account: PaperAccount, latency: float = 0.0
    ) -> None:
        self.market = market
        self.account = account
        self.latency = latency

    async def _round_trip(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        await self._round_trip()
        return self.market.get_quotes(symbols)

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        await self._round_trip()
        return self.market.get_daily_candles(symbol, days)

    async def get_option_chain(self, symbol: str) -> OptionChain:
        await self._round_trip()
        return self.market.get_option_chain(symbol)

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        await self._round_trip()
        at = self.market.now()
        return {s: self.market.get_market_metrics(s, at) for s in symbols}

    async def get_accounts(self) -> list[Account]:
        return [
            Account(
                account_number=self.account.account_number,
                nickname="Simulated paper account",
                is_paper=True,
            )
        ]

    def _mark_at(self, position: Position, at: datetime) -> float:
        """The position's mark at `at`: the stock's mid, the option's listed mid
        (else its value)."""
        if position.instrument == "equity":
            return self.market.get_quote(position.underlying, at).mark
        if not (position.option_kind and position.strike and position.expiration):
            raise ValueError(f"option position {position.symbol} lacks its contract details")
        contract = (position.underlying, position.option_kind, position.strike)
        return self.market.option_mark(*contract, position.expiration, at)

    def _mark(self, position: Position, at: datetime) -> Position:
        """`position` marked at `at`. Its previous close is its mark at the previous
        session's close, on the same basis (a mid, not the option's theoretical
        value or the stock's last trade), so on a day without trades the day P&L
        is exactly the change in NLV."""
        mark = self._mark_at(position, at)  # first: it refuses an option without details
        delta = 1.0
        if position.option_kind and position.strike and position.expiration:
            value = self.market.option_value(
                position.underlying, position.option_kind, position.strike,
                position.expiration, at,
            )  # fmt: skip
            delta = round(float(value.delta), 4)
        update = {
            "mark": mark,
            "prev_close": self._mark_at(position, self.market.previous_close_time(at)),
            "delta": delta,
        }
        return position.model_copy(update=update)

    async def _marked_positions(self, at: datetime) -> list[Position]:
        """Every position marked at `at`; one that cannot be marked is skipped
        (logged and counted, `ttai.broker.records`), not the whole call."""
        return read_each(
            await self.account.get_positions(),
            lambda p: self._mark(p, at),
            broker=self.name,
            kind="position",
            name=lambda p: p.symbol,
        )

    async def _settled_now(self) -> datetime:
        """The market's time, after settling every option whose expiration close
        has passed (the paper account records each settlement once)."""
        at = self.market.now()
        await self.account.settle(self.market, at)
        return at

    async def get_positions(self) -> list[Position]:
        return await self._marked_positions(await self._settled_now())

    async def get_balances(self) -> list[Balances]:
        at = await self._settled_now()
        positions = await self._marked_positions(at)
        cash = await self.account.get_cash()
        spots = self.market.get_quotes({p.underlying for p in positions}, at)
        nlv = cash + sum(p.mark * p.quantity * p.multiplier for p in positions)
        requirement = sum(maintenance_requirement(p, spots[p.underlying].mark) for p in positions)
        return [
            Balances(
                account=self.account.account_number,
                cash=round(cash, 2),
                net_liquidating_value=round(nlv, 2),
                buying_power=round(max(0.0, nlv - requirement), 2),
                maintenance_requirement=round(requirement, 2),
            )
        ]

    async def get_fills(self, since: datetime) -> list[Fill]:
        return await self.account.get_fills(since)

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        await self._settled_now()
        return await self.account.get_option_events(since)

    async def now(self) -> datetime:
        return self.market.now()

    async def close(self) -> None:
        """Nothing to release: the market is in memory and the pool belongs to the caller."""
