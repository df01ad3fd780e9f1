"""The simulated broker's paper account: positions and cash, in memory or in PostgreSQL.

Positions are stored unmarked (`mark` 0); `SimulatedBroker` marks them to the
simulated market when asked. Opening or closing a position moves cash by the
trade's value (a short option credits its premium); there are no fees, no
automatic exercise or assignment, and expired options stay until closed.
Seeding deposits STARTING_CASH and pays for the default portfolio out of it,
so the opening NLV is the deposit less the half-spreads crossed.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

import asyncpg

from ttai.domain.market_calendar import new_york_date
from ttai.models.market import Fill, Position

if TYPE_CHECKING:
    from ttai.broker.simulated import SimulatedMarket

PAPER_ACCOUNT = "SIM-0001"
STARTING_CASH = 100_000.0
OPTION_MULTIPLIER = 100
# Stock lots of the default portfolio, bought at the ask when the account is seeded.
DEFAULT_STOCKS: tuple[tuple[str, int], ...] = (("AAPL", 100), ("KO", 200), ("SPY", 50))
# Short puts of the default portfolio: one contract each, ~7 % out of the money,
# on the listed expiration nearest 38 days within 30-45 days.
DEFAULT_SHORT_PUTS: tuple[str, ...] = ("MSFT", "JPM", "QQQ")
_PUT_OTM = 0.07
_PUT_DTE = (30, 45)
_PUT_TARGET_DTE = 38
# pg_advisory_xact_lock key serialising concurrent seeding (ASCII "TTAIPAPR").
_SEED_LOCK = 0x5454414950415052


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


def default_portfolio(
    market: SimulatedMarket, now: datetime, account: str = PAPER_ACCOUNT
) -> list[Position]:
    """A few stock lots and short puts, traded at `now`: stock bought at the ask,
    puts sold at the bid."""
    positions: list[Position] = []
    for symbol, quantity in DEFAULT_STOCKS:
        positions.append(
            Position(
                account=account,
                symbol=symbol,
                underlying=symbol,
                instrument="equity",
                quantity=quantity,
                average_open_price=market.get_quote(symbol, now).ask,
            )
        )
    today = new_york_date(now)
    for symbol in DEFAULT_SHORT_PUTS:
        chain = market.get_option_chain(symbol, at=now)
        expirations = sorted(
            {o.expiration for o in chain.options}
            & {today + timedelta(days=d) for d in range(_PUT_DTE[0], _PUT_DTE[1] + 1)},
            key=lambda e: abs((e - today).days - _PUT_TARGET_DTE),
        )
        if not expirations:
            raise LookupError(
                f"{symbol}: no listed expiration {_PUT_DTE[0]}-{_PUT_DTE[1]} days out"
            )
        target = chain.underlying_price * (1 - _PUT_OTM)
        put = max(
            (
                o
                for o in chain.options
                if o.kind == "put" and o.expiration == expirations[0] and o.strike <= target
            ),
            key=lambda o: o.strike,
        )
        positions.append(
            Position(
                account=account,
                symbol=put.occ_symbol,
                underlying=symbol,
                instrument="option",
                quantity=-1,
                average_open_price=put.bid,
                multiplier=OPTION_MULTIPLIER,
                option_kind="put",
                strike=put.strike,
                expiration=put.expiration,
            )
        )
    return positions


def opening_cash(positions: list[Position]) -> float:
    """The deposit after paying for the seeded trades (a short put credits its premium)."""
    return round(STARTING_CASH - sum(_trade_value(p) for p in positions), 2)


def _merge(existing: Position | None, trade: Position) -> Position:
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


def _check_trade(account: str, position: Position) -> None:
    if position.account != account:
        raise ValueError(f"position belongs to {position.account!r}, not {account!r}")
    if position.quantity == 0:
        raise ValueError("a trade needs a non-zero quantity")
    if position.multiplier != multiplier(position.instrument):
        raise ValueError(
            f"{position.instrument} multiplier must be {multiplier(position.instrument)}"
        )


def _trade_value(position: Position) -> float:
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


class InMemoryPaperAccount:
    """A paper account in process memory (tests, and runs without a database)."""

    def __init__(self, account_number: str = PAPER_ACCOUNT) -> None:
        self.account_number = account_number
        self._cash: float | None = None
        self._positions: dict[str, Position] = {}
        self._fills: list[Fill] = []
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
        _check_trade(self.account_number, position)
        fill = opening_fill(position, at)
        async with self._lock:
            cash = self._seeded_cash()
            self._positions[position.symbol] = _merge(
                self._positions.get(position.symbol), position
            )
            self._fills.append(fill)
            self._cash = cash - _trade_value(position)

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
        _check_trade(self.account_number, position)
        fill = opening_fill(position, at)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock_cash(conn)
            row = await conn.fetchrow(
                "SELECT * FROM paper_positions WHERE account = $1 AND symbol = $2",
                self.account_number,
                position.symbol,
            )
            merged = _merge(_position_from_row(row) if row else None, position)
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
                _decimal(_trade_value(position)),
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
