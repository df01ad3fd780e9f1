"""Broker lanes: a rate budget shared by every worker, monitors that never wait
behind a screen, and a quote stream that neither starves the lanes nor is
starved by them (ttai/temporal/lanes.py)."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHandle

from activities.alerts import AlertActivities
from activities.analysis import AnalysisActivities
from activities.portfolio import PortfolioActivities
from activities.reports import ReportActivities
from activities.streams import StreamActivities
from tests.helpers.screens import activity_times, services, start_screen, wait_for_progress
from tests.helpers.waiting import eventually
from tests.helpers.worker_processes import (
    running_workers,
    wait_all_polling,
    worker_env,
    worker_pid,
)
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.universe import listed_symbols
from ttai.config import Settings
from ttai.db.alerts import AlertStore
from ttai.models.alerts import AlertRuleSpec
from ttai.models.monitors import MonitorInput, StreamProgress
from ttai.models.screener import ScreenInput, ScreenProgress
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.lanes import (
    BULK,
    DEFAULT_RATES,
    LIVE,
    STREAM,
    lane_queue,
    lane_rate,
)
from ttai.temporal.steps import declared
from worker import build_worker
from workflows.monitors import PriceAlertMonitorWorkflow

RATE = 4.0
"""The bulk lane's budget in these tests, activities per second."""


def test_lanes_and_rates() -> None:
    assert lane_queue("ttai", BULK) == "ttai-broker"
    assert lane_queue("ttai", LIVE) == "ttai-broker-live"
    # Screens' and analyses' reads on the bulk lane; what a person or a monitor
    # waits for on the live lane; no broker read, no lane.
    bulk = [AnalysisActivities.chart_analysis, AnalysisActivities.screen_symbol]
    live = [
        AlertActivities.check_price_alerts,
        AlertActivities.check_symbols,
        PortfolioActivities.sync_positions,
        PortfolioActivities.portfolio_snapshot,
        ReportActivities.build_end_of_day_summary,
    ]
    assert {declared(step).lane for step in bulk} == {BULK}
    assert {declared(step).lane for step in live} == {LIVE}
    assert declared(AnalysisActivities.save_analysis).lane is None
    # The quote stream: a lane of its own, never rate-limited.
    assert declared(StreamActivities.stream_price_alerts).lane == STREAM
    assert lane_queue("ttai", STREAM) == "ttai-broker-stream"
    assert lane_rate(STREAM, "tastytrade", None) is None
    assert lane_rate(STREAM, "tastytrade", 2.0) is None
    # Conservative for tastytrade, no limit for the simulated market; 0 = no limit.
    assert lane_rate(BULK, "tastytrade", None) == DEFAULT_RATES["tastytrade"][BULK] == 2.0
    assert lane_rate(LIVE, "tastytrade", None) == 1.0
    assert lane_rate(BULK, "simulated", None) is None
    assert lane_rate(BULK, "tastytrade", 0) is None
    assert lane_rate(BULK, "simulated", 7.5) == 7.5


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("0", 0.0), ("2.5", 2.5), (" 10 ", 10.0)]
)
def test_rate_settings(monkeypatch: pytest.MonkeyPatch, value: str, expected: float | None) -> None:
    monkeypatch.setenv("TTAI_BROKER_RATE", value)
    monkeypatch.setenv("TTAI_BROKER_LIVE_RATE", "1")
    settings = Settings.from_env()
    assert (settings.broker_rate, settings.broker_live_rate) == (expected, 1.0)


@pytest.mark.parametrize("value", ["-1", "fast", "inf", "nan"])
def test_bad_rate_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TTAI_BROKER_RATE", value)
    with pytest.raises(ValueError, match=r"TTAI_BROKER_RATE=.*expected activities per second"):
        Settings.from_env()


def over_budget(starts: list[datetime], rate: float) -> list[str]:
    """Windows of starts the budget does not allow: a token bucket of `rate` per
    second holding one second's worth (the server's limiter), so any k starts
    need (k - burst) / rate seconds. 50 ms of slack per window for the times the
    server records a little after it hands a task out."""
    times = sorted(t.timestamp() for t in starts)
    burst = math.ceil(rate) + 1
    bad = []
    for i in range(len(times)):
        for j in range(i + burst, len(times)):
            allowed = burst + rate * (times[j] - times[i] + 0.05)
            if j - i + 1 > allowed:
                bad.append(f"{j - i + 1} starts in {times[j] - times[i]:.3f} s")
    return bad


def test_budget_check_catches_an_overrun() -> None:
    base = datetime(2026, 11, 30, 15, 0).timestamp()
    at_rate = [datetime.fromtimestamp(base + k / RATE) for k in range(40)]
    assert over_budget(at_rate, RATE) == []
    twice = [datetime.fromtimestamp(base + k / (2 * RATE)) for k in range(40)]
    assert over_budget(twice, RATE)


async def test_two_worker_processes_share_one_budget(
    client: Client,
    dev_server: TemporalDevServer,
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """Each worker process sets the same limit; the server enforces it for the
    lane as a whole, so the two together start no more than the budget (a limit
    per process would let them start twice as many)."""
    env = worker_env(
        dev_server.address,
        dev_server.namespace,
        database_url,
        task_queue,
        tmp_path / "state",
        TTAI_BROKER_RATE=str(RATE),
    )
    with running_workers(2, env, tmp_path) as processes:
        await wait_all_polling(client, f"{task_queue}-broker", processes, tmp_path)
        symbols = listed_symbols()[:48]
        # max_concurrent 50: every symbol is scheduled at once, so only the
        # budget paces them.
        handle = await start_screen(
            client, task_queue, ScreenInput(symbols=symbols, max_concurrent=50), "screen-budget"
        )
        async with asyncio.timeout(240):
            result = await handle.result()
    assert (result.analyzed, result.failed) == (len(symbols), 0)
    times = await activity_times(handle, "screen_symbol")
    assert len(times) == len(symbols)
    starts = [started for _, started, _ in times]
    # Unpaced, 48 simulated analyses start within about a second.
    assert over_budget(starts, RATE) == []
    # And both processes took part.
    pids = {worker_pid(identity) for _, _, identity in times}
    assert {str(p.pid) for p in processes} <= pids


async def backlog_then_monitor(
    client: Client, task_queue: str, symbols: list[str], screen_id: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowHandle[Any, Any]]:
    """A screen whose every symbol is scheduled (a backlog on the bulk lane), then
    the price monitor started behind it."""
    screen = await start_screen(
        client, task_queue, ScreenInput(symbols=symbols, max_concurrent=50), screen_id
    )
    await wait_for_progress(screen, lambda p: p.running + p.done == len(symbols), 60)
    monitor = await client.start_workflow(
        PriceAlertMonitorWorkflow.run,
        MonitorInput(hours="always", interval_seconds=3600),
        id=f"price-{task_queue}",
        task_queue=task_queue,
    )
    return screen, monitor


def overtaken(
    symbol_times: list[tuple[datetime, datetime, str]],
    scheduled: datetime,
    started: datetime,
) -> list[datetime]:
    """Symbols scheduled before an activity and still waiting when it started: it
    overtook them (on a shared lane it would queue behind them)."""
    return [s for s, begun, _ in symbol_times if s < scheduled and begun > started]


async def test_monitor_checks_do_not_wait_behind_a_screen(
    client: Client, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A screen fills the bulk lane with a backlog its budget drains slowly; the
    price monitor's checks run on the live lane and start at once, ahead of
    symbols that were waiting before them."""
    market = SimulatedMarket(seed=7)
    symbols = listed_symbols()[:36]
    async with build_worker(
        client, services(db_pool, market), task_queue, lane_rates={BULK: 2.0, LIVE: None}
    ):
        screen, monitor = await backlog_then_monitor(client, task_queue, symbols, "screen-lanes")
        # The first check at start, then three on demand while the screen's
        # backlog drains (~17 s).
        for n in range(4):
            if n:
                await monitor.signal(PriceAlertMonitorWorkflow.check_now)

            async def checked(n: int = n) -> bool:
                status = await monitor.query(PriceAlertMonitorWorkflow.status)
                return status.state.iterations > n

            await eventually(checked, what=f"check {n + 1}", within=60)
        result = await screen.result()
        await monitor.cancel()
    assert result.analyzed == len(symbols)
    symbol_times = await activity_times(screen, "screen_symbol")
    check_times = await activity_times(monitor, "check_price_alerts")
    last_symbol = max(started for _, started, _ in symbol_times)
    during = [c for c in check_times if (last_symbol - c[0]).total_seconds() > 1]
    assert len(during) >= 3
    for check_scheduled, check_started, _ in during:
        assert overtaken(symbol_times, check_scheduled, check_started), (
            f"check at {check_scheduled} waited behind the screen"
        )


async def test_a_stream_and_the_broker_lanes_do_not_starve_each_other(
    client: Client, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """The price monitor's quote stream is one connection on a lane of its own, with
    slots of its own and no rate limit. While a screen's backlog waits on the bulk
    lane's budget (each lane with two slots here), the stream starts at once, ahead
    of symbols that were waiting before it, evaluates its ticks, and a rule added
    meanwhile fires on the next one; a live-lane check still runs; and the screen's
    symbols start no faster than the budget: the stream took nothing from it."""
    market = SimulatedMarket(seed=7)
    symbols = listed_symbols()[:36]
    store = AlertStore(db_pool)
    await store.create("kept", AlertRuleSpec(symbol="KO", condition="price_above", threshold=1e6))
    async with build_worker(
        client,
        services(db_pool, market),
        task_queue,
        lane_rates={BULK: 2.0, LIVE: None},
        max_concurrent_activities=2,  # per lane; the stream lane keeps its own
    ):
        screen, monitor = await backlog_then_monitor(client, task_queue, symbols, "screen-stream")

        async def stream() -> StreamProgress | None:
            for pending in (await monitor.describe()).raw_description.pending_activities:
                if pending.activity_type.name == "stream_price_alerts":
                    assert pending.heartbeat_details.payloads
                    [progress] = await client.data_converter.decode(
                        pending.heartbeat_details.payloads, [StreamProgress]
                    )
                    return progress
            return None

        first = await eventually(stream, what="the stream", until=lambda p: p and p.ticks)
        await eventually(stream, what="more ticks", until=lambda p: p.ticks >= first.ticks + 3)
        added = await store.create(
            "added", AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1)
        )
        await eventually(
            lambda: db_pool.fetchval(
                "SELECT count(*) FROM alert_triggers WHERE alert_id = $1", added.alert_id
            ),
            what="the added rule to fire on the stream",
        )
        during = await screen.query("progress", result_type=ScreenProgress)
        assert during.done < len(symbols), "the screen was still running"
        checks = (await monitor.query(PriceAlertMonitorWorkflow.status)).state.iterations
        await monitor.signal(PriceAlertMonitorWorkflow.check_now)

        async def checked() -> bool:
            status = await monitor.query(PriceAlertMonitorWorkflow.status)
            return status.state.iterations > checks

        await eventually(checked, what="a live-lane check during the screen")
        result = await screen.result()
        await monitor.cancel()
        await monitor.result()
    assert result.analyzed == len(symbols)
    symbol_times = await activity_times(screen, "screen_symbol")
    assert over_budget([started for _, started, _ in symbol_times], 2.0) == []
    [(stream_scheduled, stream_started, _)] = await activity_times(monitor, "stream_price_alerts")
    assert overtaken(symbol_times, stream_scheduled, stream_started), (
        "the stream waited behind the screen"
    )
