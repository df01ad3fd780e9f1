"""`PostgresPaperAccount`: the paper account in PostgreSQL, the workers' account.

Tables: `paper_positions`, `paper_balances` (001_core.sql), `paper_fills`
(006_day_pnl.sql) and `paper_option_events` (012_lifecycle.sql). Each trade,
and each settlement, is one transaction that locks the account's cash row
first, so concurrent trades and settlements serialise (a settlement re-reads
the expired options under the lock: two workers settle a contract once);
seeding takes an advisory lock, so workers starting together create the
account once. Amounts are stored as NUMERIC (Decimals made from the floats'
shortest repr).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg

from ttai.broker.simulated.paper.account import (
    PAPER_ACCOUNT,
    after_delivery,
    check_trade,
    closing_fill,
    merge_trade,
    multiplier,
    opening_fill,
    settlement,
    trade_value,
)
from ttai.broker.simulated.paper.seed import default_portfolio, opening_cash
from ttai.models.market import Fill, OptionEvent, Position

if TYPE_CHECKING:
    from ttai.broker.simulated.market import SimulatedMarket

# pg_advisory_xact_lock key serialising concurrent seeding (ASCII "TTAIPAPR").
_SEED_LOCK = 0x5454414950415052


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _position_from_row(row: asyncpg.Record) -> Position:
    instrument = row["instrument"]
    expiration: date | None = row["expiration"]
    return Position(
        account=row["account"],
        symbol=row["symbol"],
        underlying=row["underlying"],
        instrument=instrument,
        quantity=float(row["quantity"]),
        average_open_price=float(row["average_open_price"]),
        multiplier=multiplier(instrument),
        option_kind=row["option_kind"],
        strike=float(row["strike"]) if row["strike"] is not None else None,
        expiration=expiration,
    )


_UPSERT_POSITION = """
    INSERT INTO paper_positions (account, symbol, underlying, instrument, quantity,
                                 average_open_price, option_kind, strike, expiration)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (account, symbol) DO {}
"""


_INSERT_FILL = """
    INSERT INTO paper_fills (account, symbol, underlying, instrument, quantity, price,
                             executed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


_INSERT_EVENT = """
    INSERT INTO paper_option_events (account, kind, symbol, underlying, option_kind, strike,
        expiration, quantity, multiplier, shares, price, settlement_price, day, occurred_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (account, symbol) DO NOTHING
    RETURNING id
"""


def _event_args(e: OptionEvent) -> tuple[object, ...]:
    return (
        e.account,
        e.kind,
        e.symbol,
        e.underlying,
        e.option_kind,
        _decimal(e.strike),
        e.expiration,
        _decimal(e.quantity),
        e.multiplier,
        _decimal(e.shares),
        _decimal(e.price),
        None if e.settlement_price is None else _decimal(e.settlement_price),
        e.day,
        e.occurred_at,
    )


def _event_from_row(r: asyncpg.Record) -> OptionEvent:
    return OptionEvent(
        account=r["account"],
        kind=r["kind"],
        symbol=r["symbol"],
        underlying=r["underlying"],
        option_kind=r["option_kind"],
        strike=float(r["strike"]),
        expiration=r["expiration"],
        quantity=float(r["quantity"]),
        multiplier=r["multiplier"],
        shares=float(r["shares"]),
        price=float(r["price"]),
        settlement_price=None if r["settlement_price"] is None else float(r["settlement_price"]),
        day=r["day"],
        occurred_at=r["occurred_at"],
    )


def _fill_args(f: Fill) -> tuple[object, ...]:
    return (
        f.account,
        f.symbol,
        f.underlying,
        f.instrument,
        _decimal(f.quantity),
        _decimal(f.price),
        f.executed_at,
    )


def _position_args(p: Position) -> tuple[object, ...]:
    return (
        p.account,
        p.symbol,
        p.underlying,
        p.instrument,
        _decimal(p.quantity),
        _decimal(p.average_open_price),
        p.option_kind,
        _decimal(p.strike) if p.strike is not None else None,
        p.expiration,
    )


class PostgresPaperAccount:
    """The paper account in PostgreSQL: `paper_positions`, `paper_balances` (001_core.sql)
    and `paper_fills` (006_day_pnl.sql)."""

    def __init__(self, pool: asyncpg.Pool, account_number: str = PAPER_ACCOUNT) -> None:
        self.account_number = account_number
        self._pool = pool

    async def seed_if_empty(self, market: SimulatedMarket, now: datetime) -> bool:
        # Priced before the transaction: building chains takes milliseconds we
        # should not spend holding the lock.
        positions = default_portfolio(market, now, self.account_number)
        async with self._pool.acquire() as conn, conn.transaction():
            # Workers starting together serialise here; the loser then sees the
            # account and inserts nothing (ON CONFLICT keeps even a lost lock safe).
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEED_LOCK)
            created = await conn.fetchval(
                "INSERT INTO paper_balances (account, cash) VALUES ($1, $2) "
                "ON CONFLICT (account) DO NOTHING RETURNING true",
                self.account_number,
                _decimal(opening_cash(positions)),
            )
            if not created:
                return False
            await conn.executemany(
                _UPSERT_POSITION.format("NOTHING"), [_position_args(p) for p in positions]
            )
            await conn.executemany(
                _INSERT_FILL, [_fill_args(opening_fill(p, now)) for p in positions]
            )
            return True

    async def get_positions(self) -> list[Position]:
        rows = await self._pool.fetch(
            "SELECT * FROM paper_positions WHERE account = $1 ORDER BY opened_at, symbol",
            self.account_number,
        )
        return [_position_from_row(r) for r in rows]

    async def get_fills(self, since: datetime) -> list[Fill]:
        rows = await self._pool.fetch(
            "SELECT * FROM paper_fills WHERE account = $1 AND executed_at >= $2"
            " ORDER BY executed_at, id",
            self.account_number,
            since,
        )
        return [
            Fill(
                account=r["account"],
                symbol=r["symbol"],
                underlying=r["underlying"],
                instrument=r["instrument"],
                quantity=float(r["quantity"]),
                price=float(r["price"]),
                multiplier=multiplier(r["instrument"]),
                executed_at=r["executed_at"],
            )
            for r in rows
        ]

    async def get_cash(self) -> float:
        cash = await self._pool.fetchval(
            "SELECT cash FROM paper_balances WHERE account = $1", self.account_number
        )
        return float(cash) if cash is not None else 0.0

    async def _lock_cash(self, conn: asyncpg.Connection) -> None:
        found = await conn.fetchval(
            "SELECT true FROM paper_balances WHERE account = $1 FOR UPDATE", self.account_number
        )
        if not found:
            raise LookupError(f"paper account {self.account_number} is not seeded")

    async def open_position(self, position: Position, *, at: datetime) -> None:
        check_trade(self.account_number, position)
        fill = opening_fill(position, at)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock_cash(conn)
            row = await conn.fetchrow(
                "SELECT * FROM paper_positions WHERE account = $1 AND symbol = $2",
                self.account_number,
                position.symbol,
            )
            merged = merge_trade(_position_from_row(row) if row else None, position)
            await conn.execute(
                _UPSERT_POSITION.format(
                    "UPDATE SET quantity = EXCLUDED.quantity, "
                    "average_open_price = EXCLUDED.average_open_price"
                ),
                *_position_args(merged),
            )
            await conn.execute(
                "UPDATE paper_balances SET cash = cash - $2 WHERE account = $1",
                self.account_number,
                _decimal(trade_value(position)),
            )
            await conn.execute(_INSERT_FILL, *_fill_args(fill))

    async def close_position(self, symbol: str, price: float, *, at: datetime) -> Position:
        if at.tzinfo is None:
            raise ValueError(f"a fill needs an aware time, got naive {at.isoformat()}")
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock_cash(conn)
            row = await conn.fetchrow(
                "DELETE FROM paper_positions WHERE account = $1 AND symbol = $2 RETURNING *",
                self.account_number,
                symbol,
            )
            if row is None:
                raise KeyError(f"no open position in {symbol}")
            closed = _position_from_row(row)
            await conn.execute(
                "UPDATE paper_balances SET cash = cash + $2 WHERE account = $1",
                self.account_number,
                _decimal(closed.quantity * price * closed.multiplier),
            )
            await conn.execute(_INSERT_FILL, *_fill_args(closing_fill(closed, price, at)))
            return closed

    async def settle(self, market: SimulatedMarket, now: datetime) -> list[OptionEvent]:
        expiring = await self._pool.fetch(
            "SELECT DISTINCT underlying, expiration FROM paper_positions"
            " WHERE account = $1 AND instrument = 'option' AND expiration <= $2",
            self.account_number,
            now.date() + timedelta(days=1),  # New York is behind UTC: a day of slack
        )
        closes = {
            (r["underlying"], r["expiration"]): found
            for r in expiring
            if (found := market.settlement(r["underlying"], r["expiration"], now)) is not None
        }
        if not closes:
            return []
        settled = []
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock_cash(conn)
            rows = await conn.fetch(
                "SELECT * FROM paper_positions WHERE account = $1 AND instrument = 'option'"
                " ORDER BY symbol",
                self.account_number,
            )
            for row in rows:
                option = _position_from_row(row)
                closed = closes.get((option.underlying, option.expiration))
                if closed is None:
                    continue
                event = settlement(option, closed[2], closed[0], closed[1])
                await conn.execute(
                    "DELETE FROM paper_positions WHERE account = $1 AND symbol = $2",
                    self.account_number,
                    option.symbol,
                )
                if await conn.fetchval(_INSERT_EVENT, *_event_args(event)) is None:
                    continue  # recorded already (cannot happen under the lock)
                if event.shares:
                    await self._deliver(conn, event)
                await conn.execute(
                    "UPDATE paper_balances SET cash = cash + $2 WHERE account = $1",
                    self.account_number,
                    _decimal(event.cash),
                )
                settled.append(event)
        return settled

    async def _deliver(self, conn: asyncpg.Connection, event: OptionEvent) -> None:
        """The stock position after the event's shares moved (under the cash lock)."""
        row = await conn.fetchrow(
            "SELECT * FROM paper_positions WHERE account = $1 AND symbol = $2",
            self.account_number,
            event.underlying,
        )
        stock = after_delivery(_position_from_row(row) if row else None, event)
        if stock is None:
            await conn.execute(
                "DELETE FROM paper_positions WHERE account = $1 AND symbol = $2",
                self.account_number,
                event.underlying,
            )
            return
        await conn.execute(
            _UPSERT_POSITION.format(
                "UPDATE SET quantity = EXCLUDED.quantity, "
                "average_open_price = EXCLUDED.average_open_price"
            ),
            *_position_args(stock),
        )

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        rows = await self._pool.fetch(
            "SELECT * FROM paper_option_events WHERE account = $1 AND occurred_at >= $2"
            " ORDER BY occurred_at, id",
            self.account_number,
            since,
        )
        return [_event_from_row(r) for r in rows]
