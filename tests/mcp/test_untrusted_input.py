"""What the MCP server takes from others stays bounded and names only its own
resources (issue 22): the LISTEN bridge's announcements (anyone who can NOTIFY
on the database writes them) and handshake-era `resources/subscribe` requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.helpers.waiting import eventually
from tests.notify.test_messages import every_notification
from ttai.mcp import bridge
from ttai.mcp.bridge import (
    ALERTS_URI,
    NOTIFICATIONS_URI,
    PORTFOLIO_URI,
    NotificationBridge,
    changed_resources,
)
from ttai.mcp.server import MAX_SUBSCRIPTIONS, TtaiServer

pytestmark = pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")


def test_announcements_name_only_resources_ttai_serves() -> None:
    for kind, payload in (
        ("report_../../secrets", {}),
        ("report_daily", {}),
        ("position_anything", {}),
        ("analysis_complete", {"symbol": "../../x"}),
        ("analysis_complete", {"symbol": "aapl"}),
        ("made_up", {"symbol": "AAPL"}),
    ):
        assert changed_resources(kind, payload) == [NOTIFICATIONS_URI], kind
    # Every kind TTAI sends still names what it changed.
    for notification, _ in every_notification():
        uris = changed_resources(notification.kind, notification.payload)
        if notification.kind != "screen_complete":
            assert len(uris) == 2, (notification.kind, uris)
    assert changed_resources("report_weekly_review", {})[1] == "ttai://reports/weekly_review"
    assert changed_resources("analysis_complete", {"symbol": "BRK.B"})[1] == (
        "ttai://analysis/BRK.B"
    )


class FakeStack:
    """What the bridge asks of the stack: it is up, and where the database is."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def connection(self, **_: Any) -> None:
        return None

    def trouble(self) -> None:
        pass


async def test_a_flood_of_announcements_waits_in_a_bounded_queue(database_url: str) -> None:
    released = asyncio.Event()
    published: list[list[str]] = []

    async def slow_client(uris: Sequence[str]) -> None:
        published.append(list(uris))
        await released.wait()  # a client that does not read

    limit = getattr(bridge, "MAX_PENDING", 256)
    listener = NotificationBridge(FakeStack(database_url), slow_client)  # type: ignore[arg-type]
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 30)
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():  # all delivered at commit, at once
                for i in range(5 * limit):  # distinct: PostgreSQL folds identical ones
                    announcement = json.dumps({"id": i, "kind": "report_../../x"})
                    await conn.execute("SELECT pg_notify('ttai_notifications', $1)", announcement)
        finally:
            await conn.close()
        await eventually(lambda: listener.dropped > 0, what="the flood to overflow the queue")
        assert listener.pending <= limit
        released.set()
        await eventually(lambda: listener.pending == 0, what="the queue to drain")
        await eventually(lambda: list(bridge.STATIC_URIS) in published, what="one catch-all")
    finally:
        released.set()
        await listener.stop()
    assert len(published) <= limit + 2
    assert all(uris[0] == NOTIFICATIONS_URI for uris in published)
    assert not any("../" in uri for uris in published for uri in uris)


async def test_subscriptions_are_to_known_resources_bounded_and_end_with_the_client() -> None:
    server = TtaiServer("ttai-subscriptions")
    async with Client(server, mode="legacy") as client:
        for uri in ("ttai://anything/at/all", "file:///etc/passwd", "ttai://reports/../x"):
            with pytest.raises(MCPError, match="no resource"):
                await client.subscribe_resource(uri)
        for uri in (NOTIFICATIONS_URI, ALERTS_URI, PORTFOLIO_URI, "ttai://reports/end_of_day"):
            await client.subscribe_resource(uri)
        symbols = [a + b + c for a in "ABC" for b in "ABCDEFGH" for c in "ABC"]
        for symbol in symbols[: MAX_SUBSCRIPTIONS - 4]:
            await client.subscribe_resource(f"ttai://analysis/{symbol}")
        with pytest.raises(MCPError, match=f"at most {MAX_SUBSCRIPTIONS}"):
            await client.subscribe_resource(f"ttai://analysis/{symbols[-1]}")
        await client.unsubscribe_resource(ALERTS_URI)
        (held,) = server.legacy_subscriptions.values()
        assert len(held) == MAX_SUBSCRIPTIONS - 1 and ALERTS_URI not in held
    assert server.legacy_subscriptions == {}  # gone with the connection
