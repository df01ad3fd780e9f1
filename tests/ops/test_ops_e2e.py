"""The ops layer against a dev server, a worker, PostgreSQL and the simulated market.

Each operation as a front end calls it, and each refusal as the one line a
front end shows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.ops_stack import OpsStack
from tests.helpers.waiting import eventually
from ttai.broker.simulated.universe import listed_symbols
from ttai.config import Settings
from ttai.domain import market_calendar
from ttai.loopback import free_port
from ttai.models.alerts import AddAlertInput, ListAlertsInput, RemoveAlertInput
from ttai.models.analysis import AnalysisInput
from ttai.models.monitors import MonitorInput, SetIntervalInput
from ttai.models.portfolio import PortfolioRequest
from ttai.models.reports import LatestReportsInput
from ttai.models.screener import ScreenInput, ScreenProgress, WatchlistCommand
from ttai.ops import analysis, commands, market, monitors, reports, screens, tasks
from ttai.ops.connection import Connection
from ttai.ops.errors import Conflict, InvalidInput, NotFound, OpsError, parse
from ttai.ops.tasks import TaskFilter


@pytest.fixture
def stack(ops_stack: OpsStack) -> OpsStack:
    return ops_stack


def one_line(err: pytest.ExceptionInfo[OpsError]) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


async def test_analysis_and_the_task_manager(stack: OpsStack) -> None:
    conn = stack.conn
    started = await analysis.analyze(conn, AnalysisInput(symbol="AAPL"), wait=False)
    assert started.result is None and started.task.workflow_id.startswith("analysis-AAPL-")
    done = await tasks.task_result(conn, started.task.workflow_id)
    assert done.workflow_type == "AnalysisWorkflow" and done.result["symbol"] == "AAPL"

    waited = await analysis.analyze(conn, AnalysisInput(symbol="MSFT", notify=False), wait=True)
    assert waited.result is not None and waited.result.symbol == "MSFT"
    info = await tasks.get_task(conn, waited.task.workflow_id)
    assert info.status == "completed" and info.result is not None
    assert info.result["recommendation"] == waited.result.recommendation

    async def listed(**fields: object) -> list[str]:
        found = await tasks.list_tasks(conn, parse(TaskFilter, fields))
        return [t.workflow_id for t in found.tasks]

    # Visibility catches up a moment after the run closes.
    await eventually(
        lambda: _contains(listed(symbol="MSFT", state="finished"), waited.task.workflow_id),
        what="the finished MSFT analysis in visibility",
    )
    recommendation = waited.result.recommendation
    assert waited.task.workflow_id in await listed(recommendation=recommendation)
    assert started.task.workflow_id not in await listed(symbol="MSFT")
    assert started.task.workflow_id in await listed(workflow_type="AnalysisWorkflow")
    assert waited.task.workflow_id not in await listed(state="running")

    with pytest.raises(Conflict) as refused:
        await tasks.cancel_task(conn, waited.task.workflow_id)
    assert one_line(refused) == f"{waited.task.workflow_id} is not running (completed)"
    with pytest.raises(NotFound) as missing:
        await tasks.get_task(conn, "no-such-workflow")
    assert one_line(missing).startswith("no workflow with ID 'no-such-workflow' among TTAI's tasks")
    with pytest.raises(InvalidInput) as bad:
        parse(AnalysisInput, {"symbol": "aapl;drop"})
    assert one_line(bad).startswith("invalid input: symbol: invalid symbol 'aapl;drop'")
    with pytest.raises(InvalidInput):
        parse(TaskFilter, {"workflow_type": "NoSuchWorkflow"})

    failed = await analysis.analyze(conn, AnalysisInput(symbol="ZZZZ"), wait=False)
    with pytest.raises(InvalidInput) as unknown:
        await tasks.task_result(conn, failed.task.workflow_id)
    assert "unknown symbol: ZZZZ" in one_line(unknown)
    assert (await tasks.get_task(conn, failed.task.workflow_id)).failure == "unknown symbol: ZZZZ"


async def _contains(found: Awaitable[list[str]], item: str) -> bool:
    return item in await found


async def test_watchlists_and_screens(stack: OpsStack) -> None:
    conn = stack.conn
    added = await commands.watchlist_command(
        conn, WatchlistCommand(action="add", name="ops", symbols=["KO", "PFE", "AAPL"])
    )
    assert added.symbols == ["KO", "PFE", "AAPL"] and added.changed == 3
    assert "ops" in [w.name for w in (await commands.list_watchlists(conn)).watchlists]

    seen: list[ScreenProgress] = []
    outcome = await screens.screen(
        conn, ScreenInput(watchlist="ops", top_n=2, max_concurrent=2), on_progress=seen.append
    )
    assert outcome.result is not None
    assert (outcome.result.total, outcome.result.analyzed, len(outcome.result.top)) == (3, 3, 2)
    assert seen and seen[-1].status == "completed" and seen[-1].done == 3
    assert all(a.done <= b.done for a, b in itertools.pairwise(seen))

    # An unknown watchlist is refused before any screen starts.
    before = await _count(conn, "ScreenerWorkflow")
    with pytest.raises(NotFound) as missing:
        await screens.start_screen(conn, ScreenInput(watchlist="nope"))
    assert one_line(missing) == "no watchlist named 'nope'"
    assert await _count(conn, "ScreenerWorkflow") == before

    removed = await commands.watchlist_command(conn, WatchlistCommand(action="remove", name="ops"))
    assert removed.deleted
    with pytest.raises(NotFound):
        await commands.show_watchlist(conn, "ops")


async def _count(conn: Connection, workflow_type: str) -> int:
    found = await tasks.list_tasks(conn, parse(TaskFilter, {"workflow_type": workflow_type}))
    return len(found.tasks)


async def test_a_caller_giving_up_cancels_the_screen_it_started(stack: OpsStack) -> None:
    conn = stack.conn
    # One at a time, in batches of 10 (the simulated market has no budget): the
    # first progress comes after 10 symbols, with 50 still to go.
    symbols = listed_symbols()[:60]
    progressed = asyncio.Event()
    caller = asyncio.create_task(
        screens.screen(
            conn,
            ScreenInput(symbols=symbols, max_concurrent=1),
            workflow_id="screen-abandoned",
            on_progress=lambda p: progressed.set() if p.done >= 1 else None,
            cancel_if_abandoned=True,
        )
    )
    await asyncio.wait_for(progressed.wait(), 120)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    async def closed() -> str | None:
        status = (await tasks.get_task(conn, "screen-abandoned")).status
        return status if status != "running" else None

    assert await eventually(closed, what="the abandoned screen to stop") == "canceled"


async def test_monitors_alerts_portfolio_and_market(stack: OpsStack) -> None:
    conn = stack.conn
    # Alert rules are stored data: readable whether or not a monitor runs.
    assert (await commands.list_alerts(conn)).alerts == []
    assert all(not m.running for m in (await monitors.monitors_status(conn)).monitors)

    started = await monitors.start_monitors(conn, MonitorInput(hours="regular"))
    assert started.workflow_ids == [
        "monitor-portfolio",
        "monitor-price-alerts",
        "monitor-position-sync",
        "monitor-outbox",
    ]
    report = await monitors.monitors_status(conn)
    assert [m.running for m in report.monitors] == [True, True, True, True]

    # Alerts through AlertsWorkflow, one short workflow per read or write.
    rule = parse(AddAlertInput, {"rule": {"symbol": "AAPL", "condition": "price_above",
                                          "threshold": 10_000}})  # fmt: skip
    created = await commands.add_alert(conn, rule)
    assert created.status == "active"
    zzzz = parse(AddAlertInput, {"rule": {"symbol": "ZZZZ", "condition": "price_above",
                                          "threshold": 1}})  # fmt: skip
    with pytest.raises(InvalidInput) as unknown:
        await commands.add_alert(conn, zzzz)
    assert one_line(unknown) == "unknown symbol: ZZZZ"
    # Reads never grow the long-running monitor's history. Paused, it records
    # nothing of its own meanwhile (no timer, no check).
    await monitors.steer(conn, "price-alerts", "pause")

    async def paused_length() -> int | None:
        [info] = (await monitors.monitors_status(conn, "price-alerts")).monitors
        paused = info.status is not None and info.status.state.paused
        return info.status.history_length if paused else None

    before = await eventually(paused_length, what="the price monitor to pause")
    for _ in range(3):
        listed = await commands.list_alerts(conn)
        assert [a.alert_id for a in listed.alerts] == [created.alert_id]
    assert await paused_length() == before
    await monitors.steer(conn, "price-alerts", "resume")
    removed = await commands.remove_alert(conn, RemoveAlertInput(alert_id=created.alert_id))
    assert removed.removed
    listed = await commands.list_alerts(conn, ListAlertsInput(include_inactive=True))
    assert [a.status for a in listed.alerts] == ["removed"]
    with pytest.raises(NotFound) as no_alert:
        await commands.remove_alert(conn, RemoveAlertInput(alert_id=99_999))
    assert "99999" in one_line(no_alert)

    # Steering.
    with pytest.raises(InvalidInput) as too_fast:
        await monitors.set_interval(conn, "price-alerts", SetIntervalInput(interval_seconds=2))
    assert one_line(too_fast).startswith("monitor-price-alerts refused: interval_seconds must")
    status = await monitors.set_interval(
        conn, "price-alerts", SetIntervalInput(interval_seconds=120)
    )
    assert status.state.interval_seconds == 120
    await monitors.steer(conn, "portfolio", "pause")
    paused = (await monitors.monitors_status(conn, "portfolio")).monitors[0]
    assert paused.status is not None and paused.status.state.paused
    with pytest.raises(InvalidInput):
        monitors.monitor_ids("everything")

    # The portfolio from the sync's rows: the seeded paper account, with greeks and DTE.
    async def synced() -> bool:
        sync = (await monitors.monitors_status(conn, "position-sync")).monitors[0]
        return sync.status is not None and sync.status.state.iterations >= 1

    await eventually(synced, what="the first position sync")
    view = await commands.portfolio(conn)
    live = await commands.portfolio(conn, PortfolioRequest(source="broker"))
    assert view.source == "sync" and view.as_of is not None and view.positions
    assert {p.symbol for p in view.positions} == {p.symbol for p in live.positions}
    options = [p for p in view.positions if p.instrument == "option"]
    assert options and all(p.delta is not None and p.days_to_expiry is not None for p in options)
    for p in view.positions:
        assert p.market_value == pytest.approx(p.mark * p.quantity * p.multiplier, abs=0.01)
    assert view.net_liquidating_value > 0 and view.buying_power >= 0
    assert view.accounts and "•••" in view.accounts[0].account

    # Market status from a monitor's sessions equals the local calendar's.
    async def from_monitor() -> market.MarketStatus | None:
        found = await market.market_status(conn)
        return found if found.source == "monitor" else None

    answered = await eventually(from_monitor, what="a monitor carrying its sessions")
    calendar = market.from_calendar(answered.now)
    for field in ("is_open", "next_open", "next_close", "session"):
        assert getattr(answered, field) == getattr(calendar, field), field
    assert answered.upcoming == calendar.upcoming
    horizon = min(answered.upcoming[-1].close, calendar.upcoming[-1].close)
    assert [s for s in answered.early_closes if s.close <= horizon] == [
        s for s in calendar.early_closes if s.close <= horizon
    ]

    await monitors.steer(conn, "all", "stop")

    async def all_stopped() -> bool:
        return all(not m.running for m in (await monitors.monitors_status(conn)).monitors)

    await eventually(all_stopped, what="the monitors to stop")
    # Without Temporal the local calendar answers.
    unreachable = Connection(Settings(temporal_address=f"127.0.0.1:{free_port()}"))
    offline = await market.market_status(unreachable, now=answered.now)
    assert offline.source == "calendar" and offline.next_open == answered.next_open


async def test_reports_run_now_and_latest(stack: OpsStack) -> None:
    conn = stack.conn
    assert (await commands.latest_reports(conn)).reports == []
    now = datetime.now(UTC)
    session = market_calendar.previous_session(market_calendar.new_york_date(now))
    run = await reports.run_report(
        conn,
        reports.RunReportInput(kind="morning_briefing", as_of=session.open, notify=False),
    )
    assert run.task.workflow_id.startswith("report-morning-briefing-now-")
    assert run.result is not None and run.result.status == "reported", run.result
    latest = await commands.latest_reports(conn, LatestReportsInput(kinds=["morning_briefing"]))
    [saved] = latest.reports
    assert (saved.report_id, saved.workflow_id) == (run.result.report_id, run.task.workflow_id)
    assert saved.markdown and saved.title == run.result.title

    saturday = session.open + timedelta(days=(5 - session.day.weekday()) % 7 or 7)
    skipped = await reports.run_report(
        conn, reports.RunReportInput(kind="end_of_day", as_of=saturday, notify=False)
    )
    assert skipped.result is not None and skipped.result.status == "skipped"
    assert [r.kind for r in (await commands.latest_reports(conn)).reports] == ["morning_briefing"]


async def test_notifications_list(stack: OpsStack) -> None:
    listed = await commands.list_notifications(stack.conn, limit=5)
    assert len(listed.notifications) <= 5
    with pytest.raises(InvalidInput):
        await commands.list_notifications(stack.conn, limit=0)
