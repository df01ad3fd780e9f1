"""The durable notification outbox.

A notification is first written to the `notifications` table under its
idempotency key and announced with `NOTIFY ttai_notifications` in the same
transaction, then delivered while the row is locked, then marked delivered.
A retried activity finds the row (no second insert) and, if it was already
delivered, sends nothing; the row lock keeps two concurrent attempts from both
sending. Other local apps can `LISTEN ttai_notifications` to react at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from ttai import telemetry
from ttai.models.notifications import Notification, NotifyResult
from ttai.notify.channels import Channel

NOTIFY_CHANNEL = "ttai_notifications"


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


class Outbox:
    def __init__(self, pool: asyncpg.Pool, channels: Sequence[Channel]) -> None:
        self._pool = pool
        self._channels = list(channels)

    async def publish(self, notification: Notification) -> NotifyResult:
        async with self._pool.acquire() as conn:
            row_id, inserted = await enqueue(conn, notification)
        delivered = await self.deliver(row_id)
        return NotifyResult(notification_id=row_id, delivered=delivered, duplicate=not inserted)

    async def deliver(self, row_id: int) -> bool:
        """Deliver one pending row. True when it is (now or already) delivered."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                SELECT idempotency_key, kind, title, body, payload, status
                FROM notifications WHERE id = $1 FOR UPDATE
                """,
                row_id,
            )
            if row is None:
                raise LookupError(f"notification {row_id} does not exist")
            if row["status"] == "delivered":
                return True
            notification = Notification(
                idempotency_key=row["idempotency_key"],
                kind=row["kind"],
                title=row["title"],
                body=row["body"],
                payload=row["payload"],
            )
            try:
                for channel in self._channels:
                    await channel.send(notification)
            except Exception as err:
                # Recorded in this transaction: nothing was sent, so committing
                # the failure is safe, and the row stays pending for a retry.
                await conn.execute(
                    """
                    UPDATE notifications SET attempts = attempts + 1, last_error = $2
                    WHERE id = $1
                    """,
                    row_id,
                    str(err)[:500],
                )
                failure = err
            else:
                failure = None
                await conn.execute(
                    """
                    UPDATE notifications
                    SET status = 'delivered', delivered_at = now(), attempts = attempts + 1
                    WHERE id = $1
                    """,
                    row_id,
                )
        if failure is not None:
            telemetry.count("ttai_notifications_total", outcome="failed")
            raise failure
        telemetry.count("ttai_notifications_total", outcome="delivered")
        return True

    async def deliver_pending(self, limit: int = 100) -> int:
        """Deliver rows left pending by a crash; returns how many were delivered."""
        async with self._pool.acquire() as conn:
            ids = await conn.fetch(
                "SELECT id FROM notifications WHERE status = 'pending' ORDER BY id LIMIT $1",
                limit,
            )
        delivered = 0
        for record in ids:
            if await self.deliver(record["id"]):
                delivered += 1
        return delivered
