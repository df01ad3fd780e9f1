"""Alert rules and triggers in PostgreSQL.

`record_triggers` is the heart of idempotent alerting: in one transaction it
locks the firing rules, re-checks them, inserts each trigger under a unique
(alert_id, check_key) and enqueues its notification in the outbox. A retried
check finds its triggers and inserts nothing; a crash before commit leaves
nothing; a crash after commit leaves pending outbox rows that the next check
delivers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from ttai.domain.alerts.messages import alert_notification
from ttai.domain.alerts.rules import Firing, is_armed
from ttai.models.alerts import AlertRule, AlertRuleSpec, AlertTrigger, RemoveAlertResult
from ttai.models.monitors import MAX_TRACKED_PRICES
from ttai.notify.outbox import enqueue

_RULE_COLUMNS = """
    id, symbol, condition, threshold, reference_price, mode, cooldown_seconds, expires_at,
    note, status, trigger_count, last_triggered_at, created_at
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
        created_at=row["created_at"],
    )


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
            await conn.execute(
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
            if status is None and not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM alert_rules WHERE id = $1)", alert_id
            ):
                raise LookupError(f"no alert with id {alert_id}")
        return RemoveAlertResult(alert_id=alert_id, removed=status is not None)

    async def record_triggers(
        self,
        check_key: str,
        firings: Sequence[Firing],
        now: datetime,
        conditions: Collection[str],
    ) -> None:
        """Commit the firings of one check and expire its rules that ran out, atomically."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE alert_rules SET status = 'expired'
                WHERE status = 'active' AND expires_at <= $1 AND condition = ANY($2::text[])
                """,
                now,
                list(conditions),
            )
            for firing in sorted(firings, key=lambda f: f.alert_id):  # one lock order
                row = await conn.fetchrow(
                    f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE id = $1 FOR UPDATE",
                    firing.alert_id,
                )
                already = await conn.fetchval(
                    "SELECT 1 FROM alert_triggers WHERE alert_id = $1 AND check_key = $2",
                    firing.alert_id,
                    check_key,
                )
                # Re-checked under the lock: a concurrent or earlier attempt may
                # have fired it, or it was removed since it was read.
                if row is None or already or not is_armed(_rule(row), now):
                    continue
                rule = _rule(row)
                sequence = rule.trigger_count + 1
                notification_id, _ = await enqueue(conn, alert_notification(rule, firing, sequence))
                await conn.execute(
                    """
                    INSERT INTO alert_triggers (alert_id, sequence, check_key, subject,
                        observed, triggered_at, notification_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    """,
                    rule.alert_id,
                    sequence,
                    check_key,
                    firing.subject,
                    firing.observed,
                    now,
                    notification_id,
                )
                await conn.execute(
                    """
                    UPDATE alert_rules
                    SET trigger_count = $2, last_triggered_at = $3,
                        status = CASE WHEN mode = 'once' THEN 'triggered' ELSE status END
                    WHERE id = $1
                    """,
                    rule.alert_id,
                    sequence,
                    now,
                )

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
