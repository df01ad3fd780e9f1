"""Alert rules and triggers in PostgreSQL: the store stores.

What a condition means, whether a rule fires and what its notification says
are decided before the store is called (ttai.domain.alerts, the check
activity). `record_check` commits one check's outcome atomically and
idempotently: in one transaction it expires the rules the check found expired
and, for each firing, locks the rule and records the trigger only while the
rule is still active with the trigger count the check read (a compare-and-set:
the firing's sequence is that count + 1) and this check has not fired it yet.
The firings that win share one outbox notification: a single one as it was
built, several combined into one message (`combined_alert_notification`), so
a check that fires a hundred rules sends one message, whichever path (an
interval check, a stream) calls it. A retried check finds its triggers and
inserts nothing; a concurrent check that read the same count loses the
compare-and-set; a crash before commit leaves nothing; a crash after commit
leaves pending outbox rows that the next check delivers.

The same transaction stores what the check read for each rule (its last
reading; NULL when unknown) unless a later check stored one already, and arms
again the rearmed moves the check saw back inside their band. A firing of a
rule that waits for that (`Firing.awaits_return`) sets it waiting.

Every write that changes which rules are armed (a rule added or removed, a
firing, an expiry, a move back inside its band) is announced with
`NOTIFY ttai_alert_rules` in its transaction, so a quote stream follows the
rules within moments (`changes`). The announcement carries nothing: listeners
read the rules again. A reading alone is not announced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from ttai.domain.alerts import Firing
from ttai.models.alerts import AlertRule, AlertRuleSpec, AlertTrigger, RemoveAlertResult
from ttai.models.monitors import MAX_TRACKED_PRICES
from ttai.models.notifications import Notification
from ttai.notify.messages import combined_alert_notification
from ttai.notify.outbox import enqueue

_RULE_COLUMNS = """
    id, symbol, condition, threshold, reference_price, mode, cooldown_seconds, expires_at,
    note, status, trigger_count, last_triggered_at, created_at, awaiting_return,
    last_read_at, last_reading,
    (SELECT t.observed FROM alert_triggers t
     WHERE t.alert_id = alert_rules.id AND t.sequence = alert_rules.trigger_count
    ) AS last_observed
"""


def _rule(row: asyncpg.Record) -> AlertRule:
    return AlertRule(
        alert_id=row["id"],
        spec=AlertRuleSpec(
            symbol=row["symbol"],
            condition=row["condition"],
            threshold=row["threshold"],
            reference_price=row["reference_price"],
            mode=row["mode"],
            cooldown_seconds=row["cooldown_seconds"],
            expires_at=row["expires_at"],
            note=row["note"],
        ),
        status=row["status"],
        trigger_count=row["trigger_count"],
        last_triggered_at=row["last_triggered_at"],
        last_observed=row["last_observed"],
        created_at=row["created_at"],
        awaiting_return=row["awaiting_return"],
        last_read_at=row["last_read_at"],
        last_reading=row["last_reading"],
        last_reading_unknown=row["last_read_at"] is not None and row["last_reading"] is None,
    )


RULES_CHANNEL = "ttai_alert_rules"


async def _announce(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_notify($1, '')", RULES_CHANNEL)


MAX_ACTIVE_ALERTS = MAX_TRACKED_PRICES
"""Active rules at most: the price monitor carries one price per rule symbol
across continue-as-new, and that map is bounded too."""


class TooManyAlerts(ValueError):
    pass


class AlertStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, request_id: str, spec: AlertRuleSpec) -> AlertRule:
        async with self._pool.acquire() as conn:
            active = await conn.fetchval(
                """
                SELECT count(*) FROM alert_rules
                WHERE status = 'active' AND request_id <> $1
                """,
                request_id,
            )
            if active >= MAX_ACTIVE_ALERTS:
                raise TooManyAlerts(
                    f"{active} alert rules are active; at most {MAX_ACTIVE_ALERTS}: "
                    "remove some first"
                )
            inserted = await conn.execute(
                """
                INSERT INTO alert_rules (request_id, symbol, condition, threshold,
                    reference_price, mode, cooldown_seconds, expires_at, note)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (request_id) DO NOTHING
                """,
                request_id,
                spec.symbol,
                spec.condition,
                spec.threshold,
                spec.reference_price,
                spec.mode,
                spec.cooldown_seconds,
                spec.expires_at,
                spec.note,
            )
            if inserted == "INSERT 0 1":
                await _announce(conn)
            row = await conn.fetchrow(
                f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE request_id = $1", request_id
            )
        return _rule(row)

    async def rules(self, *, include_inactive: bool = False) -> list[AlertRule]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_RULE_COLUMNS} FROM alert_rules
                WHERE $1 OR status = 'active' ORDER BY id
                """,
                include_inactive,
            )
        return [_rule(r) for r in rows]

    async def active(self, conditions: Collection[str]) -> list[AlertRule]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_RULE_COLUMNS} FROM alert_rules
                WHERE status = 'active' AND condition = ANY($1::text[]) ORDER BY id
                """,
                list(conditions),
            )
        return [_rule(r) for r in rows]

    async def remove(self, alert_id: int) -> RemoveAlertResult:
        async with self._pool.acquire() as conn:
            status = await conn.fetchval(
                """
                UPDATE alert_rules SET status = 'removed', removed_at = now()
                WHERE id = $1 AND status <> 'removed'
                RETURNING status
                """,
                alert_id,
            )
            if status is not None:
                await _announce(conn)
            if status is None and not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM alert_rules WHERE id = $1)", alert_id
            ):
                raise LookupError(f"no alert with id {alert_id}")
        return RemoveAlertResult(alert_id=alert_id, removed=status is not None)

    async def record_check(
        self,
        check_key: str,
        now: datetime,
        fired: Sequence[tuple[Firing, Notification]],
        expired: Collection[int] = (),
        readings: Mapping[int, float | None] | None = None,
        back_in_band: Collection[int] = (),
    ) -> None:
        """Commit one check: its firings (each with its notification), the rules
        it found expired, what it read for each rule (None: unknown) and the rules
        it saw back inside their band, atomically. See the module docstring."""
        async with self._pool.acquire() as conn, conn.transaction():
            changed = False
            if expired:
                changed = (
                    await conn.execute(
                        "UPDATE alert_rules SET status = 'expired' "
                        "WHERE id = ANY($1::bigint[]) AND status = 'active'",
                        sorted(expired),
                    )
                    != "UPDATE 0"
                )
            if readings:
                await conn.executemany(
                    """
                    UPDATE alert_rules SET last_read_at = $2, last_reading = $3
                    WHERE id = $1 AND (last_read_at IS NULL OR last_read_at <= $2)
                    """,
                    [(alert_id, now, value) for alert_id, value in sorted(readings.items())],
                )
            if back_in_band:
                rearmed = await conn.execute(
                    "UPDATE alert_rules SET awaiting_return = FALSE "
                    "WHERE id = ANY($1::bigint[]) AND awaiting_return",
                    sorted(back_in_band),
                )
                changed = changed or rearmed != "UPDATE 0"
            won: list[tuple[Firing, Notification]] = []
            for firing, notification in sorted(fired, key=lambda f: f[0].alert_id):  # lock order
                row = await conn.fetchrow(
                    "SELECT status, trigger_count FROM alert_rules WHERE id = $1 FOR UPDATE",
                    firing.alert_id,
                )
                if (
                    row is not None
                    and row["status"] == "active"
                    and row["trigger_count"] == firing.sequence - 1
                    and not await conn.fetchval(
                        "SELECT 1 FROM alert_triggers WHERE alert_id = $1 AND check_key = $2",
                        firing.alert_id,
                        check_key,
                    )
                ):
                    won.append((firing, notification))
                # else: removed, fired by another check, or by this one already
            if won:
                combined = combined_alert_notification(check_key, [n for _, n in won])
                notification_id, _ = await enqueue(conn, combined)
                changed = True
                for firing, _ in won:
                    await conn.execute(
                        """
                        INSERT INTO alert_triggers (alert_id, sequence, check_key, subject,
                            observed, triggered_at, notification_id)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """,
                        firing.alert_id,
                        firing.sequence,
                        check_key,
                        firing.subject,
                        firing.observed,
                        now,
                        notification_id,
                    )
                    await conn.execute(
                        """
                        UPDATE alert_rules
                        SET trigger_count = $2, last_triggered_at = $3, awaiting_return = $4,
                            status = CASE WHEN mode = 'once' THEN 'triggered' ELSE status END
                        WHERE id = $1
                        """,
                        firing.alert_id,
                        firing.sequence,
                        now,
                        firing.awaits_return,
                    )
            if changed:
                await _announce(conn)

    @asynccontextmanager
    async def changes(self) -> AsyncIterator[asyncio.Event]:
        """An event set each time the rules change (see the module docstring), for
        the block: it holds one pool connection that LISTENs. Clear it before
        reading the rules: a change during the read sets it again."""
        changed = asyncio.Event()

        def heard(*_: Any) -> None:
            changed.set()

        async with self._pool.acquire() as conn:
            await conn.add_listener(RULES_CHANNEL, heard)
            try:
                yield changed
            finally:
                # A connection that broke meanwhile is discarded by the pool anyway.
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.remove_listener(RULES_CHANNEL, heard)

    async def triggers_for_check(self, check_key: str) -> list[AlertTrigger]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT t.alert_id, t.sequence, t.subject, r.condition, t.observed,
                       t.triggered_at, t.notification_id
                FROM alert_triggers t JOIN alert_rules r ON r.id = t.alert_id
                WHERE t.check_key = $1 ORDER BY t.alert_id
                """,
                check_key,
            )
        return [
            AlertTrigger(
                alert_id=r["alert_id"],
                sequence=r["sequence"],
                symbol=r["subject"],
                condition=r["condition"],
                observed=r["observed"],
                triggered_at=r["triggered_at"],
                notification_id=r["notification_id"],
            )
            for r in rows
        ]
