"""Broker positions mirrored in PostgreSQL, one row per position lifetime.

`sync` compares the broker's open positions with the open rows and, in one
transaction, inserts new ones, updates changed ones, marks vanished ones
closed (never deletes) and enqueues an "opened"/"closed" notification keyed by
the row, so a retried sync changes nothing and sends nothing twice. An option
that vanished because it expired or was assigned or exercised (an event among
today's trades) is notified as that instead ("position-settled:<row ID>"), and
so is one whose event arrives after its row closed (brokers post them late);
the shares an assignment or exercise brought are not announced as "opened" a
second time. The same transaction stores each account's balances, today's
trades (fills, option events and the previous closes of instruments no longer
held, for day P&L; replaced at every sync, or marked unknown when the sync
could not read them) and the time of the sync, so `snapshot` reads back one
consistent picture (the portfolio view's source).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ttai.domain.analytics.pnl import DayTrades
from ttai.models.market import Balances, Fill, OptionEvent, Position
from ttai.notify.messages import position_notification, settlement_notification
from ttai.notify.outbox import enqueue

# Serializes concurrent syncs (two workers, a retry overlapping a slow attempt).
_SYNC_LOCK = 0x7474_6169_706F_73  # "ttaipos"


@dataclass(frozen=True)
class Snapshot:
    """What the last sync stored: open positions, balances, today's trades (None:
    the sync could not read them, or none has run), and when it read the broker."""

    positions: list[Position]
    balances: list[Balances]
    as_of: datetime | None
    trades: DayTrades | None = None


@dataclass
class SyncChanges:
    open_positions: int = 0
    opened: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # of the closed: by an option event
    notification_ids: list[int] = field(default_factory=list)  # queued with the changes


class PositionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def sync(
        self,
        positions: Sequence[Position],
        now: datetime,
        balances: Sequence[Balances] | None = None,
        trades: DayTrades | None = None,
    ) -> SyncChanges:
        """Mirror `positions` (and `balances`, when given) as of `now`, with
        today's `trades`; None stores them as unknown (the previous sync's are
        dropped either way: they would be another moment's)."""
        held = {(p.account, p.symbol): p for p in positions}
        changes = SyncChanges(open_positions=len(held))
        events = {(e.account, e.symbol): e for e in (trades.events if trades else [])}
        delivered = {(e.account, e.underlying) for e in events.values() if e.shares}
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SYNC_LOCK)
            rows = await conn.fetch(
                "SELECT id, account, symbol, quantity, average_open_price "
                "FROM positions WHERE closed_at IS NULL"
            )
            stored = {(r["account"], r["symbol"]): r for r in rows}
            for key, row in stored.items():
                if key not in held:
                    await conn.execute(
                        "UPDATE positions SET closed_at = $2, updated_at = $2 WHERE id = $1",
                        row["id"],
                        now,
                    )
                    event = events.get(key)
                    notification = (
                        settlement_notification(row["id"], event)
                        if event is not None
                        else position_notification("closed", row["id"], key[1], row["quantity"])
                    )
                    notification_id, _ = await enqueue(conn, notification)
                    changes.notification_ids.append(notification_id)
                    changes.closed.append(key[1])
                    if event is not None:
                        changes.settled.append(key[1])
            await self._settled_earlier(conn, events, stored.keys() - held.keys(), changes)
            for key, position in sorted(held.items()):
                row = stored.get(key)
                if row is None:
                    row_id = await self._insert(conn, position, now)
                    changes.opened.append(position.symbol)
                    if key in delivered and position.instrument == "equity":
                        continue  # its settlement's notification says so
                    notification_id, _ = await enqueue(
                        conn,
                        position_notification("opened", row_id, position.symbol, position.quantity),
                    )
                    changes.notification_ids.append(notification_id)
                    continue
                moved = (row["quantity"], row["average_open_price"]) != (
                    position.quantity,
                    position.average_open_price,
                )
                await conn.execute(
                    """
                    UPDATE positions SET quantity = $2, average_open_price = $3, mark = $4,
                        updated_at = $5, multiplier = $6, prev_close = $7, delta = $8
                    WHERE id = $1
                    """,
                    row["id"],
                    position.quantity,
                    position.average_open_price,
                    position.mark,
                    now,
                    position.multiplier,
                    position.prev_close,
                    position.delta,
                )
                if moved:
                    changes.changed.append(position.symbol)
            if balances is not None:
                await self._store_balances(conn, balances, now)
            await self._store_trades(conn, trades)
            await conn.execute(
                """
                INSERT INTO position_sync_state (id, synced_at, day_trades_since,
                    day_previous_closes, day_trades_day, day_events)
                VALUES (TRUE, $1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET synced_at = EXCLUDED.synced_at,
                    day_trades_since = EXCLUDED.day_trades_since,
                    day_previous_closes = EXCLUDED.day_previous_closes,
                    day_trades_day = EXCLUDED.day_trades_day,
                    day_events = EXCLUDED.day_events
                """,
                now,
                trades.since if trades else None,
                dict(trades.previous_closes) if trades else {},
                trades.day if trades else None,
                [e.model_dump(mode="json") for e in trades.events] if trades else [],
            )
        return changes

    @staticmethod
    async def _settled_earlier(
        conn: asyncpg.Connection,
        events: dict[tuple[str, str], OptionEvent],
        closing_now: set[tuple[str, str]],
        changes: SyncChanges,
    ) -> None:
        """The settlement notification of an option whose row an earlier sync closed
        (its event arrived later); sent once per row, whichever sync finds it."""
        for key, event in sorted(events.items()):
            if key in closing_now:
                continue
            row_id = await conn.fetchval(
                """
                SELECT id FROM positions WHERE account = $1 AND symbol = $2
                    AND closed_at IS NOT NULL
                ORDER BY closed_at DESC LIMIT 1
                """,
                *key,
            )
            if row_id is None:
                continue
            notification_id, inserted = await enqueue(conn, settlement_notification(row_id, event))
            if inserted:
                changes.notification_ids.append(notification_id)

    @staticmethod
    async def _store_trades(conn: asyncpg.Connection, trades: DayTrades | None) -> None:
        await conn.execute("DELETE FROM position_sync_fills")
        if trades is None or not trades.fills:
            return
        await conn.executemany(
            """
            INSERT INTO position_sync_fills (ordinal, account, symbol, underlying, instrument,
                quantity, price, multiplier, executed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            [
                (
                    i,
                    f.account,
                    f.symbol,
                    f.underlying,
                    f.instrument,
                    f.quantity,
                    f.price,
                    f.multiplier,
                    f.executed_at,
                )
                for i, f in enumerate(trades.fills)
            ],
        )

    @staticmethod
    async def _store_balances(
        conn: asyncpg.Connection, balances: Sequence[Balances], now: datetime
    ) -> None:
        await conn.execute(
            "DELETE FROM account_balances WHERE NOT (account = ANY($1::text[]))",
            [b.account for b in balances],
        )
        await conn.executemany(
            """
            INSERT INTO account_balances (account, cash, net_liquidating_value, buying_power,
                maintenance_requirement, as_of)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (account) DO UPDATE SET cash = EXCLUDED.cash,
                net_liquidating_value = EXCLUDED.net_liquidating_value,
                buying_power = EXCLUDED.buying_power,
                maintenance_requirement = EXCLUDED.maintenance_requirement,
                as_of = EXCLUDED.as_of
            """,
            [
                (
                    b.account,
                    b.cash,
                    b.net_liquidating_value,
                    b.buying_power,
                    b.maintenance_requirement,
                    now,
                )
                for b in balances
            ],
        )

    async def snapshot(self) -> Snapshot:
        """The open positions and balances as the last sync stored them."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(
                """
                SELECT account, symbol, underlying, instrument, quantity, average_open_price,
                    multiplier, mark, prev_close, option_kind, strike, expiration, delta
                FROM positions WHERE closed_at IS NULL ORDER BY account, symbol
                """
            )
            balances = await conn.fetch(
                """
                SELECT account, cash, net_liquidating_value, buying_power,
                    maintenance_requirement
                FROM account_balances ORDER BY account
                """
            )
            state = await conn.fetchrow(
                "SELECT synced_at, day_trades_since, day_previous_closes, day_trades_day,"
                " day_events FROM position_sync_state"
            )
            fills = await conn.fetch(
                """
                SELECT account, symbol, underlying, instrument, quantity, price, multiplier,
                    executed_at
                FROM position_sync_fills ORDER BY ordinal
                """
            )
        trades = None
        if state is not None and state["day_trades_since"] is not None:
            trades = DayTrades(
                since=state["day_trades_since"],
                fills=[Fill(**dict(f)) for f in fills],
                previous_closes=_json(state["day_previous_closes"]),
                events=[OptionEvent.model_validate(e) for e in _json(state["day_events"])],
                day=state["day_trades_day"],
            )
        return Snapshot(
            positions=[Position(**dict(r)) for r in rows],
            balances=[Balances(**dict(b)) for b in balances],
            as_of=state["synced_at"] if state is not None else None,
            trades=trades,
        )

    @staticmethod
    async def _insert(conn: asyncpg.Connection, position: Position, now: datetime) -> int:
        return await conn.fetchval(
            """
            INSERT INTO positions (account, symbol, underlying, instrument, quantity,
                average_open_price, option_kind, strike, expiration, mark, opened_at, updated_at,
                multiplier, prev_close, delta)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14)
            RETURNING id
            """,
            position.account,
            position.symbol,
            position.underlying,
            position.instrument,
            position.quantity,
            position.average_open_price,
            position.option_kind,
            position.strike,
            position.expiration,
            position.mark,
            now,
            position.multiplier,
            position.prev_close,
            position.delta,
        )


def _json(value: Any) -> Any:
    # The pool decodes jsonb; a bare connection hands back text.
    return json.loads(value) if isinstance(value, str) else value
