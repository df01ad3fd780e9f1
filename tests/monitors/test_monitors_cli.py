"""`starter.py monitors ...` and `alerts ...` against a dev server with a worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio
from temporalio.client import Client

from tests.helpers.cli import cli, refused_offline
from tests.helpers.monitor_fakes import RecordingChannel, ScriptedBroker, monitor_worker, wall_clock
from ttai.models.monitors import MONITOR_TYPES
from ttai.temporal.client import data_converter


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["alerts", "add", "aapl", "price_above", "1"], "rule.symbol: invalid symbol 'aapl'"),
        (
            ["alerts", "add", "AAPL", "sideways", "1"],
            "rule.condition: unknown condition 'sideways'",
        ),
        (["alerts", "add", "AAPL", "price_above", "-1"], "greater than or equal to 0"),
        (["alerts", "add", "AAPL", "pct_move", "5"], "pct_move needs reference_price"),
        (["monitors", "interval", "price-alerts", "0"], "greater than or equal to 1"),
        (["monitors", "pause", "everything"], "unknown monitor 'everything'"),
    ],
)
def test_bad_input_fails_before_connecting(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert message in refused_offline(argv, capsys, monkeypatch)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    make_dev_server: Callable[..., Awaitable[object]],
    db_pool: asyncpg.Pool,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Client]:
    # Its own server: the monitors run under their fixed production IDs.
    server = await make_dev_server()
    address = server.address  # type: ignore[attr-defined]
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    monkeypatch.setenv("TTAI_TASK_QUEUE", task_queue)
    client = await Client.connect(address, data_converter=data_converter())
    broker = ScriptedBroker({"AAPL": lambda _: 100.0}, clock=wall_clock)
    async with monitor_worker(client, db_pool, broker, RecordingChannel(), task_queue):
        yield client


async def test_monitor_and_alert_commands(
    stack: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("monitors", "status") == 2
    assert "monitor-portfolio is not running: start it with `starter.py monitors start`" in (
        " ".join(capsys.readouterr().out.split())
    )
    assert await cli("monitors", "start", "--hours", "always") == 0
    assert await cli("monitors", "start") == 0  # running already: not an error
    capsys.readouterr()
    assert await cli("monitors", "status", "--json") == 0
    statuses = json.loads(capsys.readouterr().out)
    assert [s["workflow_type"] for s in statuses] == [
        "PortfolioMonitorWorkflow",
        "PriceAlertMonitorWorkflow",
        "PositionSyncWorkflow",
        "OutboxMonitorWorkflow",
    ]

    assert await cli("alerts", "add", "AAPL", "crosses_up", "110", "--json") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["spec"]["condition"] == "crosses_up" and created["status"] == "active"
    assert await cli("alerts", "add", "ZZZZ", "price_above", "1") == 2
    out = " ".join(capsys.readouterr().out.split())
    assert out == "error: unknown symbol: ZZZZ"
    assert await cli("alerts", "list", "--json") == 0
    assert [a["alert_id"] for a in json.loads(capsys.readouterr().out)["alerts"]] == [
        created["alert_id"]
    ]
    assert await cli("alerts", "remove", str(created["alert_id"]), "--json") == 0
    assert json.loads(capsys.readouterr().out)["removed"] is True

    assert await cli("monitors", "interval", "price-alerts", "2") == 2
    assert "must be at least 5" in capsys.readouterr().out
    assert await cli("monitors", "interval", "price-alerts", "120", "--json") == 0
    assert json.loads(capsys.readouterr().out)["state"]["interval_seconds"] == 120
    assert await cli("monitors", "pause", "price-alerts") == 0
    capsys.readouterr()
    assert await cli("monitors", "status", "price-alerts", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["state"]["paused"] is True

    assert await cli("monitors", "stop") == 0
    for workflow_id in MONITOR_TYPES:
        result = await stack.get_workflow_handle(workflow_id).result()
        assert "stopped_at" in result
