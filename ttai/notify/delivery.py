"""One delivery attempt of one outbox row: to each channel that lacks it, then its outcome.

- Each channel that accepts the notification gets a row in
  `notification_deliveries` at once (autocommit), and is skipped by every
  later attempt: one broken channel never makes the working ones send it
  again, and a crash after a send never repeats it.
- A channel's failure is an outcome, not an exception: the row stays
  `pending` with `attempts` counted and `next_attempt_at` moved by `Backoff`
  (doubling from `base_seconds` up to `cap_seconds`); after `max_attempts` it
  is `dead` (a dead letter, sent again only by `Outbox.retry`).
- Each channel but the log takes at most `RateLimit.count` notifications per
  `RateLimit.seconds`, counted from `notification_deliveries` (so across
  every worker; two workers sending at the same moment may pass it by one
  each). A row a channel has no room for waits, without an attempt counted,
  until the oldest delivery in the window leaves it: a flood (a rule firing on
  every check, reports run again and again) reaches a phone slowly, and whole.

The caller (`ttai.notify.outbox.Outbox`) holds the row's advisory lock, so no
two attempts at one row run at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from ttai.models.notifications import Notification
from ttai.notify.channels import Channel
from ttai.telemetry.metrics import count

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Backoff:
    """When a row that a channel refused is tried again, and when it is given up."""

    base_seconds: float = 30
    cap_seconds: float = 3600
    max_attempts: int = 10

    def delay_seconds(self, attempts: int) -> float:
        """Wait after the `attempts`-th failed attempt: base, 2x base, 4x base ... cap."""
        return min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))


DEFAULT_BACKOFF = Backoff()
"""30 s doubling to 1 h, dead after 10 attempts (about 3.5 h of trying)."""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` notifications per channel in any `seconds` window."""

    count: int = 30
    seconds: float = 3600


DEFAULT_RATE_LIMIT = RateLimit()
"""30 an hour per channel (the log channel is never limited)."""
UNLIMITED = ("log",)  # channels that only write to this machine


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt of a row did."""

    notification_id: int
    status: str
    sent: int = 0
    error: str | None = None
    deferred: bool = False  # a channel had no room: it waits for its rate limit

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


async def deliver_to_channels(
    conn: asyncpg.Connection,
    row_id: int,
    notification: Notification,
    attempts_so_far: int,
    channels: Sequence[Channel],
    backoff: Backoff,
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
) -> Attempt:
    """Send row `row_id` (a pending `notification`) to every channel that does
    not have it yet and has room for it, and record what happened."""
    have = {
        r["channel"]
        for r in await conn.fetch(
            "SELECT channel FROM notification_deliveries WHERE notification_id = $1", row_id
        )
    }
    sent, errors = 0, []
    room_at: list[float] = []  # seconds until each full channel has room again
    for channel in channels:
        if channel.channel_id in have:
            continue
        wait = await _seconds_until_room(conn, channel.channel_id, rate_limit)
        if wait > 0:
            room_at.append(wait)
            continue
        try:
            await channel.send(notification)
        except Exception as err:  # one channel's failure is this row's outcome
            errors.append(f"{channel.label}: {err}"[:200])
            continue
        # Recorded at once (autocommit): a crash later never re-sends to it.
        await conn.execute(
            """
            INSERT INTO notification_deliveries (notification_id, channel, label)
            VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
            """,
            row_id,
            channel.channel_id,
            channel.label,
        )
        have.add(channel.channel_id)
        sent += 1
    if not errors and room_at:
        # Not a failure: no attempt counted; tried again once the fullest channel has room.
        await conn.execute(
            """
            UPDATE notifications
            SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
            WHERE id = $1
            """,
            row_id,
            f"waiting for a channel's rate limit ({rate_limit.count} per "
            f"{rate_limit.seconds / 60:g} min)",
            max(room_at),
        )
        count("ttai_notifications_total", outcome="deferred")
        return Attempt(row_id, "pending", sent, deferred=True)
    if not errors:
        await conn.execute(
            """
            UPDATE notifications
            SET status = 'delivered', delivered_at = now(), attempts = attempts + 1,
                last_error = NULL
            WHERE id = $1
            """,
            row_id,
        )
        count("ttai_notifications_total", outcome="delivered")
        return Attempt(row_id, "delivered", sent)
    error = "; ".join(errors)[:MAX_ERROR_LENGTH]
    attempts = attempts_so_far + 1
    dead = attempts >= backoff.max_attempts
    await conn.execute(
        """
        UPDATE notifications
        SET attempts = $2, last_error = $3,
            status = CASE WHEN $4 THEN 'dead' ELSE 'pending' END,
            dead_at = CASE WHEN $4 THEN now() END,
            next_attempt_at = now() + make_interval(secs => $5)
        WHERE id = $1
        """,
        row_id,
        attempts,
        error,
        dead,
        backoff.delay_seconds(attempts),
    )
    count("ttai_notifications_total", outcome="dead" if dead else "failed")
    return Attempt(row_id, "dead" if dead else "pending", sent, error)


async def _seconds_until_room(conn: asyncpg.Connection, channel: str, limit: RateLimit) -> float:
    """0 when `channel` may take one more now; else how long until it may."""
    if channel in UNLIMITED:
        return 0.0
    wait = await conn.fetchval(
        """
        SELECT EXTRACT(EPOCH FROM (delivered_at + make_interval(secs => $2) - now()))
        FROM notification_deliveries
        WHERE channel = $1 AND delivered_at > now() - make_interval(secs => $2)
        ORDER BY delivered_at DESC
        OFFSET $3 - 1 LIMIT 1
        """,
        channel,
        limit.seconds,
        limit.count,
    )
    return max(0.0, float(wait)) if wait is not None else 0.0
