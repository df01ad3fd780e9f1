"""An alert fires -> the outbox commits and NOTIFYs -> subscribed clients hear of it.

Both protocol generations: `subscriptions/listen` (2026-07-28) and
`resources/subscribe` + `notifications/resources/updated` (the handshake era
hosts speak today). The server learns of the notification from PostgreSQL's
LISTEN, not by polling.
"""

from __future__ import annotations

import asyncio
import json

import mcp_types as mt
import pytest
from mcp import Client

from ttai.mcp.server import TtaiServer

ALERT = {"symbol": "AAPL", "condition": "price_above", "threshold": 1, "note": "push test"}


async def _bridge_listening(mcp: TtaiServer) -> None:
    apps = mcp.apps
    await asyncio.wait_for(apps[-1].bridge.listening.wait(), 60)


async def _alert_notification(client: Client, alert_id: int) -> dict:
    text = (await client.read_resource("ttai://notifications", cache_mode="bypass")).contents[0]
    assert isinstance(text, mt.TextResourceContents)
    rows = json.loads(text.text)
    keys = [row["idempotency_key"] for row in rows]
    assert f"alert:{alert_id}:1" in keys, keys
    return rows[keys.index(f"alert:{alert_id}:1")]


async def test_alert_fired_reaches_a_listening_client(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        await client.read_resource("ttai://server")
        await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})  # stack ready
        await _bridge_listening(mcp)
        async with client.listen(resource_subscriptions=["ttai://alerts"]) as events:
            assert "ttai://alerts" in events.honored.resource_subscriptions  # type: ignore[union-attr]
            added = await client.call_tool("add_alert", ALERT)
            assert not added.is_error, added.content
            assert added.structured_content is not None
            alert_id = added.structured_content["alert_id"]

            async def first_update() -> str:
                async for event in events:
                    return event.uri  # type: ignore[attr-defined]
                raise AssertionError("the subscription ended")

            assert await asyncio.wait_for(first_update(), 60) == "ttai://alerts"
        row = await _alert_notification(client, alert_id)
        assert row["kind"] == "alert"


@pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")
async def test_alert_fired_reaches_a_subscribed_handshake_era_client(mcp: TtaiServer) -> None:
    updates: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: object) -> None:
        if isinstance(message, mt.ResourceUpdatedNotification):
            updates.put_nowait(str(message.params.uri))

    async with Client(mcp, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities is not None
        resources = client.server_capabilities.resources
        assert resources is not None and resources.subscribe
        await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
        await _bridge_listening(mcp)
        await client.subscribe_resource("ttai://alerts")
        await client.subscribe_resource("ttai://notifications")
        added = await client.call_tool("add_alert", ALERT)
        assert not added.is_error, added.content
        assert added.structured_content is not None
        heard = [await asyncio.wait_for(updates.get(), 60)]
        while "ttai://alerts" not in heard:  # positions the sync opened may come first
            heard.append(await asyncio.wait_for(updates.get(), 60))
        assert "ttai://notifications" in heard  # the same commit changed both
        await _alert_notification(client, added.structured_content["alert_id"])
