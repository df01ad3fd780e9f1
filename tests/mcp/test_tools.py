"""Every tool, resource and prompt over the ops layer, through the in-memory client."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import mcp_types as mt
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.mcp.server import TtaiServer
from ttai.temporal.client import connect


async def call(client: Client, tool: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error(client: Client, tool: str, /, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text and "Traceback" not in text, text
    assert text.startswith(f"{tool}: "), text
    return text


async def read(client: Client, uri: str) -> Any:
    contents = (await client.read_resource(uri, cache_mode="bypass")).contents[0]
    assert isinstance(contents, mt.TextResourceContents)
    return json.loads(contents.text)


async def test_tasks_get_list_and_cancel(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        started = await call(client, "analyze_symbol", symbol="JPM", wait=False)
        task_id = started["task"]["workflow_id"]

        async def finished() -> bool:
            info = await call(client, "get_task", task_id=task_id)
            return info["status"] == "completed"

        await eventually(finished, what="the analysis to complete")
        info = await call(client, "get_task", task_id=task_id)
        assert info["workflow_type"] == "AnalysisWorkflow"
        assert info["result"]["symbol"] == "JPM"

        async def listed() -> bool:
            found = await call(client, "list_tasks", symbol="JPM", state="finished")
            return task_id in [task["workflow_id"] for task in found["tasks"]]

        await eventually(listed, what="the analysis in visibility")
        found = await call(client, "list_tasks", symbol="JPM", workflow_type="AnalysisWorkflow")
        assert all(task["symbol"] == "JPM" for task in found["tasks"])

        assert "not running (completed)" in await error(client, "cancel_task", task_id=task_id)
        assert "no workflow" in await error(client, "get_task", task_id="no-such-task")

        screen = await call(
            client, "screen_symbols", symbols=["AAPL", "MSFT", "KO"], max_concurrent=1, wait=False
        )
        screen_id = screen["task"]["workflow_id"]
        cancelled = await call(client, "cancel_task", task_id=screen_id)
        assert cancelled["cancel_requested"] is True

        async def stopped() -> bool:
            return (await call(client, "get_task", task_id=screen_id))["status"] != "running"

        await eventually(stopped, what="the screen to stop")


async def test_alerts_add_list_remove_and_the_resource(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        rule = await call(
            client,
            "add_alert",
            symbol="AAPL",
            condition="pct_move",
            threshold=5,
            reference_price=200,
            mode="rearm",
            cooldown_seconds=600,
            expires_at="2099-01-01T00:00:00Z",
            note="five percent",
        )
        alert_id = rule["alert_id"]
        assert rule["spec"]["condition"] == "pct_move" and rule["status"] == "active"
        listed = await call(client, "list_alerts")
        assert alert_id in [a["alert_id"] for a in listed["alerts"]]
        resource = await read(client, "ttai://alerts")
        assert alert_id in [a["alert_id"] for a in resource["alerts"]]

        removed = await call(client, "remove_alert", alert_id=alert_id)
        assert removed == {"alert_id": alert_id, "removed": True}
        assert alert_id not in [
            a["alert_id"] for a in (await call(client, "list_alerts"))["alerts"]
        ]
        inactive = await call(client, "list_alerts", include_inactive=True)
        assert alert_id in [a["alert_id"] for a in inactive["alerts"]]
        assert "alert_id" in await error(client, "remove_alert", alert_id=0)


async def test_portfolio_market_and_the_portfolio_resource(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:

        async def synced() -> bool:
            view = await call(client, "portfolio")
            return bool(view["positions"])

        await eventually(synced, what="the first position sync")  # the paper account's positions
        view = await call(client, "portfolio")
        assert {"positions", "as_of"} <= set(view)
        assert (await read(client, "ttai://portfolio"))["positions"]

        market = await call(client, "market_status")
        assert isinstance(market["is_open"], bool) and market["upcoming"]
        assert market["source"] in ("monitor", "calendar")


async def test_monitors_steer_and_report(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        status = await call(client, "monitors")
        names = {m["name"] for m in status["monitors"]["monitors"]}
        assert names == {"portfolio", "price-alerts", "position-sync", "outbox"}
        assert all(m["running"] for m in status["monitors"]["monitors"])

        paused = await call(client, "monitors", action="pause", monitor="portfolio")
        assert paused["steered"]["workflow_ids"] == ["monitor-portfolio"]
        await call(client, "monitors", action="resume", monitor="portfolio")
        await call(client, "monitors", action="check_now", monitor="price-alerts")
        changed = await call(
            client, "monitors", action="set_interval", monitor="price-alerts", interval_seconds=30
        )
        assert changed["monitor"]["state"]["interval_seconds"] == 30

        assert "one monitor" in await error(client, "monitors", action="set_interval")
        assert "takes no interval" in await error(
            client, "monitors", action="pause", interval_seconds=30
        )


async def test_watchlists_and_an_unknown_one_starts_no_screen(
    mcp: TtaiServer, backend: Settings
) -> None:
    async with Client(mcp) as client:
        added = await call(
            client, "watchlists", action="add", name="tech", symbols=["AAPL", "MSFT"]
        )
        assert added["symbols"] == ["AAPL", "MSFT"] and added["changed"] == 2
        shown = await call(client, "watchlists", action="show", name="tech")
        assert shown["symbols"] == ["AAPL", "MSFT"]
        listed = await call(client, "watchlists")
        assert "tech" in [w["name"] for w in listed["watchlists"]]
        assert "add needs" in await error(client, "watchlists", action="add", name="tech")

        line = await error(client, "screen_symbols", watchlist="nope")
        assert "nope" in line
    temporal = await connect(backend)
    screens = [wf async for wf in temporal.list_workflows("WorkflowType = 'ScreenerWorkflow'")]
    assert screens == []  # refused before a screen started


async def test_reports_latest_and_run(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        assert (await call(client, "reports"))["latest"]["reports"] == []
        run = await call(client, "reports", action="run", kind="end_of_day")
        assert run["run"]["result"]["kind"] == "end_of_day"
        assert run["run"]["result"]["status"] in ("reported", "skipped")
        latest = await call(client, "reports", action="latest", kind="end_of_day")
        if run["run"]["result"]["status"] == "reported":
            [saved] = latest["latest"]["reports"]
            assert saved["kind"] == "end_of_day"
            assert (await read(client, "ttai://reports/end_of_day"))["kind"] == "end_of_day"
        assert "run needs a kind" in await error(client, "reports", action="run")
        with pytest.raises(MCPError, match="no report kind"):
            await client.read_resource("ttai://reports/lunch")


async def test_the_latest_analysis_of_a_symbol_is_a_resource(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        assert templates == {"ttai://reports/{kind}", "ttai://analysis/{symbol}"}
        statics = {str(r.uri) for r in (await client.list_resources()).resources}
        assert statics == {
            "ttai://server", "ttai://notifications", "ttai://alerts", "ttai://portfolio"
        }  # fmt: skip
        with pytest.raises(MCPError, match="no completed analysis"):
            await client.read_resource("ttai://analysis/XOM")
        done = await call(client, "analyze_symbol", symbol="XOM")

        latest = await eventually(
            lambda: read(client, "ttai://analysis/XOM"),
            what="the analysis in visibility",
            until=lambda analysis: analysis["symbol"] == "XOM",
            retrying=MCPError,
        )
        assert latest["task_id"] == done["task"]["workflow_id"]
        with pytest.raises(MCPError, match="no symbol"):
            await client.read_resource("ttai://analysis/xom!")
        notifications = await read(client, "ttai://notifications")
        assert any(n["kind"] == "analysis_complete" for n in notifications)


async def test_prompts_stitch_the_tools_together(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"find_csp_candidates", "review_positions", "plan_session"}
        csp = await client.get_prompt("find_csp_candidates", {"watchlist": "tech", "top_n": "3"})
        text = csp.messages[0].content.text  # type: ignore[union-attr]
        assert "screen_symbols" in text and '"tech"' in text and "top_n 3" in text
        review = await client.get_prompt("review_positions", {})
        assert "portfolio" in review.messages[0].content.text  # type: ignore[union-attr]
        plan = await client.get_prompt("plan_session", {})
        assert "morning_briefing" in plan.messages[0].content.text  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="invalid watchlist"):
            await client.get_prompt("find_csp_candidates", {"watchlist": "Not Valid"})
        with pytest.raises(MCPError, match="invalid top_n"):
            await client.get_prompt("find_csp_candidates", {"top_n": "many"})


async def test_list_alerts_says_when_the_last_reading_was_unknown(
    mcp: TtaiServer, database_url: str
) -> None:
    """Issue 20: an unknown reading fires nothing, and list_alerts says it was unknown."""
    async with Client(mcp) as client:
        rule = await call(
            client, "add_alert", symbol="TSLA", condition="iv_rank_below", threshold=20
        )
        assert (rule["last_read_at"], rule["last_reading_unknown"]) == (None, False)
        conn = await asyncpg.connect(database_url)
        try:  # what a check that got no IV rank from the broker stores
            await conn.execute(
                "UPDATE alert_rules SET last_read_at = now(), last_reading = NULL WHERE id = $1",
                rule["alert_id"],
            )
        finally:
            await conn.close()
        (listed,) = [
            a
            for a in (await call(client, "list_alerts"))["alerts"]
            if a["alert_id"] == rule["alert_id"]
        ]
        assert (listed["last_reading"], listed["last_reading_unknown"]) == (None, True)
        review = await client.get_prompt("review_positions", {})
        assert 'write "unknown", never 0' in review.messages[0].content.text  # type: ignore[union-attr]
