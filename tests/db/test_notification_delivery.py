"""Per-channel delivery, backoff, dead letters, and the notifications commands.

Each Apprise URL is its own channel; a channel that accepted a message is
recorded and never gets it again, however often the row is retried because
another channel is broken. Rows back off with a cap, then become dead letters
that `starter.py notifications list --dead` shows and `notifications retry ID`
sends again. A failing row never blocks the rows after it.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from temporalio.client import Client

from activities.notifications import NotificationActivities
from starter import build_parser
from tests.helpers.cli import cli
from tests.helpers.local_http import serving_posts
from ttai.config import Settings
from ttai.models.notifications import Notification
from ttai.notify.channels import (
    AppriseChannel,
    LogChannel,
    channel_identity,
    channel_key,
    channels_from_urls,
    legacy_identity,
)
from ttai.notify.delivery import RateLimit
from ttai.notify.outbox import Backoff, Outbox
from ttai.temporal.client import data_converter
from worker import build_worker

KEY = b"test-channel-key-0123456789"  # the channel key (ttai.notify.channels)


class Hooks:
    """JSON webhooks: /good accepts, /bad refuses while `broken`, /picky refuses poison."""

    def __init__(self) -> None:
        self.received: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[str] = Counter()
        self.broken = True

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["name"]
        body = await request.json()
        if (path == "bad" and self.broken) or (path == "picky" and "poison" in body["title"]):
            self.refused[path] += 1
            return web.Response(status=500)
        self.received[(path, body["title"])] += 1
        return web.Response(text="ok")


@pytest_asyncio.fixture(loop_scope="session")
async def hooks() -> AsyncIterator[tuple[Hooks, Callable[[str], str]]]:
    hook = Hooks()
    async with serving_posts("/{name}", hook.handle) as port:
        yield hook, lambda name: f"json://127.0.0.1:{port}/{name}"


def note(key: str, title: str = "AAPL select") -> Notification:
    return Notification(idempotency_key=key, kind="analysis_complete", title=title, body="**x**")


NO_WAIT = Backoff(base_seconds=0, cap_seconds=0, max_attempts=100)


async def make_due(pool: asyncpg.Pool) -> None:
    """What the passing of time does between checks."""
    await pool.execute("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")


async def test_five_checks_with_one_broken_channel_deliver_one_copy(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    hook, url = hooks
    outbox = Outbox(db_pool, channels_from_urls([url("good"), url("bad")], key=KEY))
    first = await outbox.publish(note("k-broken"))
    assert not first.delivered and first.error and "refused" in first.error
    for _ in range(5):  # five monitor checks, the broken channel still broken
        await make_due(db_pool)
        await outbox.deliver_pending()
    assert hook.received[("good", "AAPL select")] == 1
    assert hook.refused["bad"] == 6
    row = await db_pool.fetchrow("SELECT status, attempts FROM notifications")
    assert (row["status"], row["attempts"]) == ("pending", 6)
    # The channel is fixed: the next due check delivers to it, and only to it.
    hook.broken = False
    await make_due(db_pool)
    run = await outbox.deliver_pending()
    assert run.delivered == 1
    assert hook.received == Counter({("good", "AAPL select"): 1, ("bad", "AAPL select"): 1})
    assert await db_pool.fetchval("SELECT status FROM notifications") == "delivered"


async def test_delivery_records_name_channels_without_their_secrets(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    _, url = hooks
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    channels = [
        LogChannel(),
        AppriseChannel(url("good"), key=KEY),
        AppriseChannel(f"tgram://{token}/-100", key=KEY),
    ]
    for channel in channels:
        assert token not in channel.channel_id and token not in channel.label
        assert "AAHdqT" not in channel.channel_id + channel.label
    assert len({c.channel_id for c in channels}) == 3
    assert AppriseChannel(url("good"), key=KEY).channel_id == channels[1].channel_id  # stable
    await Outbox(db_pool, channels[:2]).publish(note("k-ids"))
    rows = await db_pool.fetch("SELECT channel, label FROM notification_deliveries")
    assert {r["channel"] for r in rows} == {channels[0].channel_id, channels[1].channel_id}
    assert all("json://" not in r["channel"] for r in rows)


async def test_failing_row_backs_off_then_becomes_a_dead_letter(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    hook, url = hooks
    backoff = Backoff(base_seconds=30, cap_seconds=120, max_attempts=4)
    outbox = Outbox(db_pool, [AppriseChannel(url("bad"), key=KEY)], backoff=backoff)
    await outbox.publish(note("k-dead"))
    delays = []
    for _ in range(3):
        row = await db_pool.fetchrow(
            "SELECT status, attempts, extract(epoch FROM next_attempt_at - now()) AS wait "
            "FROM notifications"
        )
        assert row["status"] == "pending"
        delays.append(round(float(row["wait"])))
        assert (await outbox.deliver_pending()).delivered == 0  # not due yet: not tried
        assert hook.refused["bad"] == row["attempts"]
        await make_due(db_pool)
        await outbox.deliver_pending()
    assert [d // 10 * 10 for d in delays] == [30, 60, 120]  # doubling, then the cap
    assert delays[-1] <= 120
    row = await db_pool.fetchrow("SELECT status, attempts, dead_at FROM notifications")
    assert (row["status"], row["attempts"]) == ("dead", 4) and row["dead_at"] is not None
    await make_due(db_pool)
    assert (await outbox.deliver_pending()).delivered == 0
    assert hook.refused["bad"] == 4  # a dead letter is not retried on its own


async def test_failing_row_does_not_block_later_rows(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    hook, url = hooks
    picky = AppriseChannel(url("picky"), key=KEY)
    outbox = Outbox(db_pool, [picky], backoff=NO_WAIT)
    async with db_pool.acquire() as conn:
        from ttai.notify.outbox import enqueue

        await enqueue(conn, note("k-poison", "poison pill"))  # the oldest row fails
        await enqueue(conn, note("k-fine", "fine"))
    run = await outbox.deliver_pending()
    assert (run.delivered, run.failed) == (1, 1)
    assert run.error is not None and picky.label in run.error and "refused" in run.error
    assert "/picky" not in run.error  # a URL path may hold a token: never in errors
    assert hook.received[("picky", "fine")] == 1
    statuses = dict(await db_pool.fetch("SELECT idempotency_key, status FROM notifications"))
    assert statuses == {"k-poison": "pending", "k-fine": "delivered"}


@pytest_asyncio.fixture(loop_scope="session")
async def notify_stack(
    make_dev_server: Callable[..., Awaitable[object]],
    db_pool: asyncpg.Pool,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    hooks: tuple[Hooks, Callable[[str], str]],
) -> AsyncIterator[Outbox]:
    server = await make_dev_server()
    address = server.address  # type: ignore[attr-defined]
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    monkeypatch.setenv("TTAI_TASK_QUEUE", task_queue)
    client = await Client.connect(address, data_converter=data_converter())
    _, url = hooks
    outbox = Outbox(
        db_pool,
        channels_from_urls([url("good"), url("bad")], key=KEY),
        backoff=Backoff(base_seconds=0, cap_seconds=0, max_attempts=2),
    )
    command = NotificationActivities(outbox).notifications_command
    async with build_worker(client, None, task_queue, activities=[command]):
        yield outbox


async def test_notifications_commands_list_and_retry_dead_letters(
    notify_stack: Outbox,
    db_pool: asyncpg.Pool,
    hooks: tuple[Hooks, Callable[[str], str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, _ = hooks
    outbox = notify_stack
    monkeypatch.setenv("COLUMNS", "300")  # no cell cut short
    dead = await outbox.publish(note("k-cli-dead", "[bold]dead[/] letter"))
    await make_due(db_pool)
    await outbox.deliver_pending()  # second failure: the cap is 2, so it is dead now
    await outbox.publish(note("k-cli-ok", "other"))  # pending (bad channel), not dead
    assert hook.received[("good", "[bold]dead[/] letter")] == 1

    assert await cli("notifications", "list", "--dead", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    [row] = listed["notifications"]
    assert row["notification_id"] == dead.notification_id and row["status"] == "dead"
    assert row["attempts"] == 2 and "refused" in row["last_error"]
    [log, good] = row["delivered_to"]  # the log channel and the working webhook
    assert log == "log" and good.startswith("json://127.0.0.1:") and "/good" not in good

    assert await cli("notifications", "list") == 0
    table = capsys.readouterr().out
    assert "[bold]dead[/] letter" in table and "other" in table

    hook.broken = False
    assert await cli("notifications", "retry", str(dead.notification_id)) == 0
    out = capsys.readouterr().out
    assert f"notification {dead.notification_id} delivered" in out
    assert hook.received[("bad", "[bold]dead[/] letter")] == 1
    assert hook.received[("good", "[bold]dead[/] letter")] == 1  # not sent again
    status = await db_pool.fetchval(
        "SELECT status FROM notifications WHERE id = $1", dead.notification_id
    )
    assert status == "delivered"

    assert await cli("notifications", "retry", str(dead.notification_id)) == 2
    assert "already delivered" in capsys.readouterr().out
    assert await cli("notifications", "retry", "999999") == 2
    assert "no notification 999999" in capsys.readouterr().out
    assert await cli("notifications", "retry", "0") == 2
    assert "notification_id" in capsys.readouterr().out


def test_notifications_command_shape() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["notifications", "retry"])
    args: Any = parser.parse_args(["notifications", "list", "--dead", "--limit", "5"])
    assert (args.dead, args.limit) == (True, 5)


async def test_each_channel_takes_at_most_its_rate_and_the_rest_waits_whole(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    """Issue 22: a flood (reports run again and again) must not reach a phone at once."""
    hook, url = hooks
    hook.broken = False
    limit = RateLimit(count=3, seconds=3600)
    outbox = Outbox(db_pool, channels_from_urls([url("good")], key=KEY), rate_limit=limit)
    for i in range(10):
        await outbox.publish(note(f"k-flood-{i}", title=f"report {i}"))
    await outbox.deliver_pending()
    assert sum(hook.received.values()) == 3
    rows = await db_pool.fetch(
        "SELECT status, attempts, next_attempt_at > now() + interval '50 minutes' AS later, "
        "last_error FROM notifications WHERE status = 'pending'"
    )
    assert len(rows) == 7  # waiting, not dropped, not failed
    assert all(r["attempts"] == 0 and r["later"] for r in rows)
    assert all("rate limit" in r["last_error"] for r in rows)
    # The log channel (this machine's own log) is never limited.
    logged = await db_pool.fetchval(
        "SELECT count(*) FROM notification_deliveries WHERE channel = 'log'"
    )
    assert logged == 10
    # An hour later the window has room again: the next three go.
    await db_pool.execute(
        "UPDATE notification_deliveries SET delivered_at = delivered_at - interval '61 minutes'"
    )
    await make_due(db_pool)
    await outbox.deliver_pending()
    assert sum(hook.received.values()) == 6


def test_channel_ids_confirm_no_guess_without_the_local_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: an unsalted SHA-256 of `ntfys://ntfy.sh/my-alerts` let whoever saw the
    ID or label confirm a guessed topic."""
    url = "ntfys://ntfy.sh/my-alerts"
    guess = hashlib.sha256(url.encode()).hexdigest()
    channel_id, label = channel_identity(url, KEY)
    assert guess[:6] not in channel_id + label
    assert channel_identity(url, b"another-key-0123456789")[0] != channel_id
    assert channel_identity(url, KEY) == (channel_id, label)  # stable under one key
    assert label.startswith("ntfys://ntfy.sh #")

    monkeypatch.delenv("TTAI_CHANNEL_KEY", raising=False)
    settings = Settings(state_dir=tmp_path / "state")
    key = channel_key(settings)
    key_file = tmp_path / "state" / "channel-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key) >= 32
    assert channel_key(settings) == key  # made once
    monkeypatch.setenv("TTAI_CHANNEL_KEY", "shared-by-every-worker-0123")
    assert channel_key(settings) == b"shared-by-every-worker-0123"


async def test_ids_older_versions_stored_are_replaced_without_sending_again(
    db_pool: asyncpg.Pool, hooks: tuple[Hooks, Callable[[str], str]]
) -> None:
    hook, url = hooks
    hook.broken = False
    good, gone = url("good"), "ntfys://ntfy.sh/an-old-topic"
    row_id = await db_pool.fetchval(
        "INSERT INTO notifications (idempotency_key, kind, title, body) "
        "VALUES ('k-old', 'alert', 'AAPL', 'b') RETURNING id"
    )
    # What an older version recorded: sent to `good` and to a channel since removed.
    for old_url in (good, gone):
        await db_pool.execute(
            "INSERT INTO notification_deliveries (notification_id, channel, label) "
            "VALUES ($1, $2, $3)",
            row_id,
            *legacy_identity(old_url),
        )
    outbox = Outbox(db_pool, channels_from_urls([good], key=KEY))
    for _ in range(2):  # every start: idempotent
        await outbox.adopt_channel_ids()
    await outbox.deliver(row_id)
    assert hook.received == Counter()  # `good` had it already: not sent again
    rows = {
        r["channel"]: r["label"]
        for r in await db_pool.fetch(
            "SELECT channel, label FROM notification_deliveries WHERE notification_id = $1", row_id
        )
    }
    assert channel_identity(good, KEY)[0] in rows
    assert not any(channel in rows for channel, _ in map(legacy_identity, (good, gone)))
    retired = [label for channel, label in rows.items() if channel.startswith("ntfys:retired-")]
    assert retired == ["ntfys://ntfy.sh"]  # no hash left to test a guess against
