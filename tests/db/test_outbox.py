"""The notification outbox against real PostgreSQL and a real JSON webhook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web

from tests.helpers.local_http import serving_posts
from ttai.models.notifications import Notification
from ttai.notify.channels import AppriseChannel, LogChannel, channels_from_urls
from ttai.notify.delivery import Backoff
from ttai.notify.outbox import NOTIFY_CHANNEL, Outbox

KEY = b"test-channel-key-0123456789"  # the channel key (ttai.notify.channels)


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.fail_next = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        self.received.append(await request.json())
        return web.Response(text="ok")


@pytest_asyncio.fixture(loop_scope="session")
async def webhook() -> AsyncIterator[tuple[Webhook, str]]:
    hook = Webhook()
    async with serving_posts("/notify", hook.handle) as port:
        yield hook, f"json://127.0.0.1:{port}/notify"


def note(key: str = "analysis:wf-1:run-1") -> Notification:
    return Notification(
        idempotency_key=key, kind="analysis_complete", title="AAPL select", body="**AAPL**"
    )


async def count_rows(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM notifications")


async def test_publish_twice_sends_once(
    db_pool: asyncpg.Pool, webhook: tuple[Webhook, str]
) -> None:
    hook, url = webhook
    outbox = Outbox(db_pool, channels_from_urls([url], key=KEY))
    first = await outbox.publish(note())
    second = await outbox.publish(note())
    assert first.delivered and not first.duplicate
    assert second.duplicate and second.notification_id == first.notification_id
    assert await count_rows(db_pool) == 1
    assert len(hook.received) == 1
    assert hook.received[0]["title"] == "AAPL select"


async def test_concurrent_retries_deliver_once(
    db_pool: asyncpg.Pool, webhook: tuple[Webhook, str]
) -> None:
    hook, url = webhook
    outbox = Outbox(db_pool, channels_from_urls([url], key=KEY))
    results = await asyncio.gather(*(outbox.publish(note("k-concurrent")) for _ in range(5)))
    assert {r.notification_id for r in results} == {results[0].notification_id}
    assert len(hook.received) == 1


async def test_failed_delivery_stays_pending_then_delivers_once(
    db_pool: asyncpg.Pool, webhook: tuple[Webhook, str]
) -> None:
    hook, url = webhook
    hook.fail_next = 1
    outbox = Outbox(
        db_pool, [LogChannel(), AppriseChannel(url, key=KEY)], backoff=Backoff(base_seconds=0)
    )
    result = await outbox.publish(note("k-retry"))
    assert not result.delivered and result.error is not None and "refused" in result.error
    row = await db_pool.fetchrow("SELECT status, attempts, last_error FROM notifications")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "refused" in row["last_error"]
    assert (await outbox.deliver_pending()).delivered == 1
    assert (await outbox.deliver_pending()).delivered == 0
    assert len(hook.received) == 1
    assert await db_pool.fetchval("SELECT status FROM notifications") == "delivered"


async def test_listeners_hear_new_notifications(db_pool: asyncpg.Pool) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(*args: object) -> None:
        heard.put_nowait(str(args[-1]))

    async with db_pool.acquire() as listener:
        await listener.add_listener(NOTIFY_CHANNEL, on_notify)
        outbox = Outbox(db_pool, [LogChannel()])
        first = await outbox.publish(note("k-listen"))
        await outbox.publish(note("k-listen"))  # a duplicate is not announced again
        # Announcements arrive in commit order: once the next notification's is
        # heard, a duplicate's would have been heard before it.
        after = await outbox.publish(note("k-listen-after"))
        messages = [json.loads(await asyncio.wait_for(heard.get(), timeout=5)) for _ in range(2)]
        await listener.remove_listener(NOTIFY_CHANNEL, on_notify)
    assert [m["id"] for m in messages] == [first.notification_id, after.notification_id]
    assert heard.empty()
    assert messages[0]["kind"] == "analysis_complete"


def test_unsupported_url_names_only_the_scheme() -> None:
    with pytest.raises(ValueError, match=r"nosuchscheme$"):
        AppriseChannel("nosuchscheme://secret-token@host", key=KEY)
