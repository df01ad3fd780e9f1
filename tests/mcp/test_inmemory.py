"""The tools' logic through the SDK's in-memory client, against a real stack."""

from __future__ import annotations

import asyncio
import json
import time

import mcp_types as mt
from mcp import Client
from temporalio.client import Client as TemporalClient
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError

from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.mcp.server import TtaiServer
from ttai.temporal.client import connect

ALERT = {"symbol": "AAPL", "condition": "price_above", "threshold": 3}


async def _started_workflows(settings: Settings) -> set[str]:
    """Every workflow on the server but the monitors the fixture started."""
    client: TemporalClient = await connect(settings)
    return {wf.id async for wf in client.list_workflows() if not wf.id.startswith("monitor-")}


async def test_analyze_symbol_waits_or_returns_the_task(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        result = await client.call_tool("analyze_symbol", {"symbol": "AAPL"})
        assert not result.is_error, result.content
        assert result.structured_content is not None
        outcome = result.structured_content
        assert outcome["task"]["workflow_id"].startswith("analysis-AAPL-")
        assert outcome["result"]["symbol"] == "AAPL"
        assert outcome["result"]["recommendation"] in {
            "strong_select", "select", "watchlist", "reject"
        }  # fmt: skip

        started = await client.call_tool("analyze_symbol", {"symbol": "MSFT", "wait": False})
        assert not started.is_error, started.content
        assert started.structured_content is not None
        assert started.structured_content["result"] is None
        assert started.structured_content["task"]["workflow_id"].startswith("analysis-MSFT-")


async def test_bad_input_is_one_quick_line_and_never_reaches_temporal(
    mcp: TtaiServer, backend: Settings
) -> None:
    before = await _started_workflows(backend)
    cases = [
        ("analyze_symbol", {"symbol": "aapl!"}, "symbol"),
        ("analyze_symbol", {"symbol": "AAPL", "strategy": "straddle"}, "strategy"),
        ("screen_symbols", {"watchlist": "Not A Name"}, "watchlist"),
        ("screen_symbols", {}, "symbols or a watchlist"),
        ("screen_symbols", {"symbols": ["AAPL"], "watchlist": "default"}, "not both"),
        ("screen_symbols", {"symbols": ["AAPL"], "top_n": 0}, "top_n"),
        ("add_alert", {**ALERT, "condition": "pct_move"}, "reference_price"),
        ("add_alert", {**ALERT, "threshold": -3}, "threshold"),
        ("add_alert", {**ALERT, "threshold": "inf"}, "finite"),
        ("add_alert", {**ALERT, "threshold": "Infinity"}, "finite"),
        ("add_alert", {**ALERT, "threshold": "-Infinity"}, "threshold"),
        ("add_alert", {**ALERT, "condition": "moon_phase"}, "condition"),
        ("nosuch", {}, "Unknown tool"),
    ]
    async with Client(mcp) as client:
        for name, arguments, needle in cases:
            started = time.monotonic()
            result = await client.call_tool(name, arguments)
            elapsed = time.monotonic() - started
            assert result.is_error, (name, arguments)
            text = result.content[0].text  # type: ignore[union-attr]
            assert "\n" not in text and "Traceback" not in text and "errors.pydantic" not in text
            assert text.startswith(f"{name}: "), text
            assert needle in text, text
            print(f"{elapsed * 1000:.1f} ms  {text}")
        # One good call, then the history holds that workflow and nothing else.
        good = await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
        assert good.structured_content is not None
    marker = good.structured_content["task"]["workflow_id"]

    async def marker_visible() -> bool:
        return marker in await _started_workflows(backend)

    await eventually(marker_visible, what="the good call's workflow in visibility")
    assert await _started_workflows(backend) == before | {marker}


async def test_tools_declare_descriptions_and_schemas(mcp: TtaiServer) -> None:
    async with Client(mcp) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    contract = {
        "analyze_symbol", "screen_symbols", "get_task", "cancel_task", "list_tasks",
        "add_alert", "list_alerts", "remove_alert", "portfolio", "market_status",
    }  # fmt: skip
    assert contract <= set(tools)
    assert set(tools) - contract == {"monitors", "watchlists", "reports"}
    for name, tool in tools.items():
        assert tool.description and not tool.description.startswith(" ")
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None
        assert "place" not in name and "order" not in name  # read-only towards the broker
    symbol = tools["analyze_symbol"].input_schema["properties"]["symbol"]
    assert symbol["pattern"].startswith("^[A-Z]")
    threshold = tools["add_alert"].input_schema["properties"]["threshold"]
    assert threshold["minimum"] == 0
    condition = tools["add_alert"].input_schema["properties"]["condition"]
    assert "price_above" in condition["enum"]


async def test_cancelling_a_waiting_screen_cancels_its_workflow(
    mcp: TtaiServer, backend: Settings
) -> None:
    temporal = await connect(backend)
    progress: list[tuple[float, float | None, str | None]] = []
    first = asyncio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))
        first.set()

    symbols = ["AAPL", "MSFT", "KO", "JPM", "SPY", "QQQ", "XOM", "PFE", "T", "VZ"]
    async with Client(mcp) as client:
        call = asyncio.ensure_future(
            client.call_tool(
                "screen_symbols",
                {"symbols": symbols, "max_concurrent": 1},
                progress_callback=on_progress,
            )
        )
        await asyncio.wait_for(first.wait(), 60)
        call.cancel()
        screens = [wf async for wf in temporal.list_workflows("WorkflowType = 'ScreenerWorkflow'")]
        assert len(screens) == 1
        handle = temporal.get_workflow_handle(screens[0].id)
        # The screen stops: cancelled outright, or finished early as "cancelled".
        try:
            result = await asyncio.wait_for(handle.result(), 60)
        except WorkflowFailureError as err:
            assert isinstance(err.cause, CancelledError), err.cause
            assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
        else:
            assert result["status"] == "cancelled" and result["analyzed"] < len(symbols)
        # The session still works after the cancelled call.
        again = await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
        assert not again.is_error


async def test_screen_reports_progress_until_done(mcp: TtaiServer) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    symbols = ["AAPL", "MSFT", "KO", "JPM"]
    async with Client(mcp) as client:
        result = await client.call_tool(
            "screen_symbols",
            {"symbols": symbols, "max_concurrent": 1, "top_n": 3},
            progress_callback=on_progress,
        )
    assert not result.is_error, result.content
    assert result.structured_content is not None
    screen = result.structured_content["result"]
    assert screen["total"] == 4 and len(screen["top"]) <= 3
    assert progress, "no progress notification arrived"
    assert all(total == 4 for _, total, _ in progress)
    dones = [done for done, _, _ in progress]
    assert dones == sorted(dones)


async def test_server_resource_says_where_the_stack_is(mcp: TtaiServer, backend: Settings) -> None:
    async with Client(mcp) as client:
        await client.call_tool("analyze_symbol", {"symbol": "KO", "wait": False})
        contents = (await client.read_resource("ttai://server")).contents[0]
        assert isinstance(contents, mt.TextResourceContents)
        status = json.loads(contents.text)
        assert status["temporal_address"] == backend.temporal_address
        assert status["state"] == "ready" and status["owner"] is False
