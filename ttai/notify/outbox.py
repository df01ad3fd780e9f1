"""The durable notification outbox: delivery per channel, backoff, dead letters.

A notification is first written to the `notifications` table under its
idempotency key and announced with `NOTIFY ttai_notifications` in the same
transaction (other local apps can `LISTEN ttai_notifications`), then
delivered:

- per channel, with backoff and dead letters: one attempt at a row is
  `ttai.notify.delivery` (a channel that has it is skipped, a refusing one
  moves the row's next attempt; after `Backoff.max_attempts` the row is a
  dead letter, which only `retry` (`starter.py notifications retry ID`)
  sends again);
- under a per-row advisory lock, so two workers (or a retried activity and a
  monitor check) never both send it;
- within a rate limit per channel (`RateLimit`, 30 an hour by default): a
  row a channel has no room for waits, it is never dropped;
- row by row: a failing row is recorded and the next one is tried.

A channel's failure is an outcome, not an exception: `publish` returns
`delivered=False` and the outbox retries on its own clock: the outbox monitor
(OutboxMonitorWorkflow) calls `deliver_pending`. Database errors still raise.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from ttai.models.notifications import Notification, NotificationInfo, NotifyResult
from ttai.notify.channels import LEGACY_ID_PATTERN, Channel
from ttai.notify.delivery import (
    DEFAULT_BACKOFF,
    DEFAULT_RATE_LIMIT,
    MAX_ERROR_LENGTH,
    Attempt,
    Backoff,
    RateLimit,
    deliver_to_channels,
)

NOTIFY_CHANNEL = "ttai_notifications"
_LOCK_NAMESPACE = 0x7474_6E6F  # "ttno": first key of the per-row advisory locks


@dataclass(frozen=True)
class PendingRun:
    """What one pass over the due rows did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    error: str | None = None


class NotificationNotFound(LookupError):
    pass


class AlreadyDelivered(ValueError):
    pass


async def enqueue(conn: asyncpg.Connection, notification: Notification) -> tuple[int, bool]:
    """Insert the notification unless its key exists. Returns (id, inserted)."""
    async with conn.transaction():
        row_id = await conn.fetchval(
            """
            INSERT INTO notifications (idempotency_key, kind, title, body, payload)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
            """,
            notification.idempotency_key,
            notification.kind,
            notification.title,
            notification.body,
            notification.payload,
        )
        if row_id is None:
            existing = await conn.fetchval(
                "SELECT id FROM notifications WHERE idempotency_key = $1",
                notification.idempotency_key,
            )
            return existing, False
        announcement = {"id": row_id, "kind": notification.kind, "title": notification.title}
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, json.dumps(announcement))
        return row_id, True


_INFO_COLUMNS = """
    n.id, n.idempotency_key, n.kind, n.title, n.status, n.attempts, n.last_error,
    n.created_at, n.next_attempt_at, n.delivered_at, n.dead_at,
    COALESCE((SELECT array_agg(d.label ORDER BY d.delivered_at, d.label)
              FROM notification_deliveries d WHERE d.notification_id = n.id), '{}') AS labels
"""


def _info(row: asyncpg.Record) -> NotificationInfo:
    return NotificationInfo(
        notification_id=row["id"],
        idempotency_key=row["idempotency_key"],
        kind=row["kind"],
        title=row["title"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        delivered_at=row["delivered_at"],
        dead_at=row["dead_at"],
        delivered_to=list(row["labels"]),
    )


class Outbox:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Sequence[Channel],
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
    ) -> None:
        self._pool = pool
        self._channels = list(channels)
        self._backoff = backoff
        self._rate_limit = rate_limit

    async def adopt_channel_ids(self) -> None:
        """Replace the channel IDs older versions stored (unsalted SHA-256 of the
        URL, which confirms guesses of it): a configured channel's rows take its
        keyed ID, so it is not sent what it has again; the rest (channels no
        longer configured, never sent to again) get a random ID and lose the hash
        in their label. Idempotent: run at every start."""
        async with self._pool.acquire() as conn, conn.transaction():
            for channel in self._channels:
                old = getattr(channel, "legacy_id", None)
                if old is None or old == channel.channel_id:
                    continue
                await conn.execute(
                    """
                    UPDATE notification_deliveries d SET channel = $2, label = $3
                    WHERE channel = $1 AND NOT EXISTS (
                        SELECT 1 FROM notification_deliveries e
                        WHERE e.notification_id = d.notification_id AND e.channel = $2)
                    """,
                    old,
                    channel.channel_id,
                    channel.label,
                )
                await conn.execute("DELETE FROM notification_deliveries WHERE channel = $1", old)
            retired = await conn.fetch(
                "SELECT DISTINCT channel FROM notification_deliveries WHERE channel ~ $1",
                LEGACY_ID_PATTERN,
            )
            for row in retired:
                scheme = row["channel"].partition(":")[0]
                await conn.execute(
                    """
                    UPDATE notification_deliveries
                    SET channel = $2, label = regexp_replace(label, ' #[0-9a-f]{6}$', '')
                    WHERE channel = $1
                    """,
                    row["channel"],
                    f"{scheme}:retired-{secrets.token_hex(10)}",
                )

    async def publish(self, notification: Notification) -> NotifyResult:
        """Enqueue (once per key) and try to deliver now; a refusing channel is retried later."""
        async with self._pool.acquire() as conn:
            row_id, inserted = await enqueue(conn, notification)
        # A repeated publish (a retried activity) respects the row's backoff.
        attempt = await self.deliver(row_id, only_if_due=not inserted)
        return NotifyResult(
            notification_id=row_id,
            delivered=attempt.delivered,
            duplicate=not inserted,
            error=attempt.error,
        )

    async def deliver(self, row_id: int, *, only_if_due: bool = False) -> Attempt:
        """One attempt at a row: every channel that does not have it yet gets it."""
        async with self._pool.acquire() as conn:
            # Session lock, released below (and by the pool's reset if we are cancelled).
            lock = (_LOCK_NAMESPACE, row_id % 2_147_483_647)
            await conn.execute("SELECT pg_advisory_lock($1, $2)", *lock)
            try:
                return await self._attempt(conn, row_id, only_if_due)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", *lock)

    async def _attempt(self, conn: asyncpg.Connection, row_id: int, only_if_due: bool) -> Attempt:
        row = await conn.fetchrow(
            """
            SELECT idempotency_key, kind, title, body, payload, status, attempts,
                   next_attempt_at <= now() AS due
            FROM notifications WHERE id = $1
            """,
            row_id,
        )
        if row is None:
            raise NotificationNotFound(f"no notification {row_id}")
        if row["status"] != "pending" or (only_if_due and not row["due"]):
            return Attempt(row_id, row["status"])  # delivered, dead, or not due yet
        notification = Notification(
            idempotency_key=row["idempotency_key"],
            kind=row["kind"],
            title=row["title"],
            body=row["body"],
            payload=row["payload"],
        )
        return await deliver_to_channels(
            conn,
            row_id,
            notification,
            row["attempts"],
            self._channels,
            self._backoff,
            self._rate_limit,
        )

    async def deliver_pending(self, limit: int = 100) -> PendingRun:
        """One attempt at each due pending row, oldest due first; none blocks the others."""
        async with self._pool.acquire() as conn:
            ids = await conn.fetch(
                """
                SELECT id FROM notifications
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at, id LIMIT $1
                """,
                limit,
            )
        return await self.deliver_each([record["id"] for record in ids])

    async def deliver_each(self, row_ids: Sequence[int]) -> PendingRun:
        """One attempt at each of these rows that is still due (a row delivered, dead
        or backing off meanwhile is left alone); a failing row does not stop the others.
        A row named twice (several triggers of one combined alert) is tried once."""
        delivered = failed = dead = 0
        errors: list[str] = []
        for row_id in dict.fromkeys(row_ids):
            attempt = await self.deliver(row_id, only_if_due=True)
            if attempt.delivered:
                delivered += 1
            elif attempt.error is not None:
                failed += 1
                dead += attempt.status == "dead"
                errors.append(f"notification {attempt.notification_id}: {attempt.error}")
        error = None
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            error = f"{errors[0]}{more}"[:MAX_ERROR_LENGTH]
        return PendingRun(delivered=delivered, failed=failed, dead=dead, error=error)

    async def notifications(
        self, *, dead_only: bool = False, limit: int = 50
    ) -> list[NotificationInfo]:
        """Newest first; only dead letters with `dead_only`."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_INFO_COLUMNS} FROM notifications n
                WHERE NOT $1 OR n.status = 'dead'
                ORDER BY n.id DESC LIMIT $2
                """,
                dead_only,
                limit,
            )
        return [_info(r) for r in rows]

    async def info(self, row_id: int) -> NotificationInfo:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {_INFO_COLUMNS} FROM notifications n WHERE n.id = $1", row_id
            )
        if row is None:
            raise NotificationNotFound(f"no notification {row_id}")
        return _info(row)

    async def retry(self, row_id: int) -> NotificationInfo:
        """Send a dead (or pending) row again now, with a fresh set of attempts.

        Channels that have it already are skipped as always. Raises
        NotificationNotFound, or AlreadyDelivered for a delivered row.
        """
        async with self._pool.acquire() as conn:
            status = await conn.fetchval(
                """
                UPDATE notifications
                SET status = 'pending', attempts = 0, dead_at = NULL, next_attempt_at = now()
                WHERE id = $1 AND status <> 'delivered'
                RETURNING status
                """,
                row_id,
            )
        if status is None:
            info = await self.info(row_id)  # raises when it does not exist
            raise AlreadyDelivered(f"notification {info.notification_id} was already delivered")
        await self.deliver(row_id)
        return await self.info(row_id)
