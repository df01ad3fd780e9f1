"""An alert fires -> the outbox commits and NOTIFYs -> subscribed clients hear of it.

Both protocol generations: `subscriptions/listen` (2026-07-28) and
`resources/subscribe` + `notifications/resources/updated` (the handshake era
hosts speak today). The server learns of the notification from PostgreSQL's
LISTEN, not by polling. With the price monitor streaming, an alert fires on the
tick that crosses its level.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import mcp_types as mt
import pytest
from mcp import Client

from tests.helpers.simulated_market import first_crossing
from tests.helpers.waiting import eventually
from ttai.broker.simulated.market import SimulatedMarket
from ttai.mcp.server import TtaiServer

ALERT = {"symbol": "AAPL", "condition": "price_above", "threshold": 1, "note": "push test"}


async def _bridge_listening(mcp: TtaiServer) -> None:
    apps = mcp.apps
    await asyncio.wait_for(apps[-1].bridge.listening.wait(), 60)


async def _add_and_hear(client: Client, rule: dict, events: Any, within: float) -> int:
    """Add `rule` with the add_alert tool; its ID once the first update is heard."""
    added = await client.call_tool("add_alert", rule)
    assert not added.is_error, added.content
    assert added.structured_content is not None

    async def first_update() -> str:
        async for event in events:
            return event.uri  # type: ignore[no-any-return]
        raise AssertionError("the subscription ended")

    assert await asyncio.wait_for(first_update(), within) == "ttai://alerts"
    return int(added.structured_content["alert_id"])


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
            alert_id = await _add_and_hear(client, ALERT, events, 60)
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


async def test_an_alert_added_through_the_tool_fires_on_the_first_crossing_tick(
    session_mcp: TtaiServer, session_market: SimulatedMarket
) -> None:
    """The price monitor streams quotes: an alert added with the add_alert tool fires
    on the very tick that first crosses its level (a level the market's
    deterministic path is known to cross a few seconds ahead), and the client
    hears of it as a resource-updated message."""
    async with Client(session_mcp) as client:
        await client.read_resource("ttai://server")
        status = await client.call_tool("monitors", {"action": "status", "monitor": "price-alerts"})
        assert not status.is_error, status.content
        await _bridge_listening(session_mcp)

        async def streaming() -> bool:
            result = await client.call_tool(
                "monitors", {"action": "status", "monitor": "price-alerts"}
            )
            assert result.structured_content is not None
            [monitor] = result.structured_content["monitors"]["monitors"]
            return (monitor["status"] or {}).get("mode") == "streaming"

        await eventually(streaming, what="the price monitor to stream")
        ahead = session_market.now() + timedelta(seconds=4)
        crossing = first_crossing(session_market, 1.0, "AAPL", earliest=ahead)
        rule = {"symbol": "AAPL", "condition": crossing.condition, "threshold": crossing.level}
        async with client.listen(resource_subscriptions=["ttai://alerts"]) as events:
            alert_id = await _add_and_hear(client, rule, events, 120)
            heard = session_market.now()
        rules = json.loads(
            (await client.read_resource("ttai://alerts", cache_mode="bypass")).contents[0].text  # type: ignore[union-attr]
        )
        [fired] = [r for r in rules["alerts"] if r["alert_id"] == alert_id]
        assert fired["status"] == "triggered" and fired["trigger_count"] == 1
        assert fired["last_observed"] == crossing.price  # the first tick at the level
        assert datetime.fromisoformat(fired["last_triggered_at"]) == crossing.at
        row = await _alert_notification(client, alert_id)
        assert row["kind"] == "alert"
    # Measured, not asserted (bench/monitors.py measures it): tick -> resource-updated.
    print(f"crossing tick -> resource-updated: {(heard - crossing.at).total_seconds():.3f} s")
