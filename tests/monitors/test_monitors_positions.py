"""Position sync and the portfolio monitor over a weekend and a Monday, time-skipped.

Sync keeps a slow pace while the market is closed and the normal one while it
is open; new, changed and closed positions are recorded (closed ones kept,
marked) with one notification per opening/closing. The portfolio monitor
sleeps through the weekend and fires position rules once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from tests.helpers.monitor_fakes import (
    RecordingChannel,
    ScriptedBroker,
    monitor_worker,
)
from tests.helpers.portfolio import shares
from tests.helpers.times import new_york
from ttai.db.alerts import AlertStore
from ttai.domain import market_calendar
from ttai.domain.market_calendar import NEW_YORK
from ttai.models.alerts import AlertRuleSpec
from ttai.models.market import Position
from ttai.models.monitors import MonitorInput, MonitorResult
from workflows.monitors import PortfolioMonitorWorkflow, PositionSyncWorkflow

CHECK_DRIFT = timedelta(seconds=10)  # far below the 5-minute interval


def next_full_week(after: datetime) -> date:
    """A Monday at least two days ahead whose Monday and Tuesday are regular sessions."""
    day = after.astimezone(NEW_YORK).date() + timedelta(days=2)
    while True:
        day += timedelta(days=1)
        if day.weekday() != 0:
            continue
        sessions = market_calendar.sessions(day, day + timedelta(days=1))
        if len(sessions) == 2 and not any(s.early_close for s in sessions):
            return day


async def test_sync_and_portfolio_rules_over_a_weekend(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> None:
    env = time_skipping_env
    monday = next_full_week(await env.get_current_time())
    saturday, tuesday = monday - timedelta(days=2), monday + timedelta(days=1)
    expiry = monday + timedelta(days=4)

    def positions(at: datetime) -> list[Position]:
        put = Position(
            account="A1",
            symbol="AAPL  261218P00180000",
            underlying="AAPL",
            instrument="option",
            quantity=-2 if at >= new_york(monday, 9, 41) else -1,
            average_open_price=2.5,
            multiplier=100,
            option_kind="put",
            strike=180,
            expiration=expiry,
            delta=-0.45 if at >= new_york(monday, 10, 12) else -0.25,
        )
        held = [put]
        if new_york(monday, 9, 32) <= at < new_york(monday, 9, 51):
            held.append(shares("MSFT", 10, 400))
        return held

    broker = ScriptedBroker({}, positions=positions)
    channel = RecordingChannel()
    store = AlertStore(db_pool)
    delta_rule = await store.create(
        "r1", AlertRuleSpec(symbol="AAPL", condition="delta_at_least", threshold=0.4)
    )
    dte_rule = await store.create(
        "r2", AlertRuleSpec(symbol="AAPL", condition="dte_at_most", threshold=3)
    )
    await env.sleep(new_york(saturday, 12) - await env.get_current_time())

    async with monitor_worker(env.client, db_pool, broker, channel, task_queue):
        sync = await env.client.start_workflow(
            PositionSyncWorkflow.run,
            MonitorInput(),  # 300 s while open, 1800 s while closed
            id=f"sync-{task_queue}",
            task_queue=task_queue,
        )
        portfolio = await env.client.start_workflow(
            PortfolioMonitorWorkflow.run,
            MonitorInput(interval_seconds=300),
            id=f"portfolio-{task_queue}",
            task_queue=task_queue,
        )
        await env.sleep(new_york(saturday, 15, 15) - await env.get_current_time())
        weekend = await sync.query(PositionSyncWorkflow.status)
        assert weekend.state.iterations == 7  # 12:00, 12:30 ... 15:00
        assert not weekend.market_open
        assert (await portfolio.query(PortfolioMonitorWorkflow.status)).state.iterations == 0

        await env.sleep(new_york(monday, 10, 2) - await env.get_current_time())
        monday_sync = await sync.query(PositionSyncWorkflow.status)
        # Every 30 min from Saturday 12:00 until Monday's open, then every 5 min to 10:00.
        closed = (
            new_york(monday, 9, 30).astimezone(UTC) - new_york(saturday, 12).astimezone(UTC)
        ) // timedelta(minutes=30)
        assert monday_sync.state.iterations == closed + 7
        await env.sleep(new_york(tuesday, 9, 32) - await env.get_current_time())
        for handle in (sync, portfolio):
            await handle.cancel()
        sync_result: MonitorResult = await sync.result()
        portfolio_result: MonitorResult = await portfolio.result()

    rows = await db_pool.fetch(
        "SELECT symbol, quantity, opened_at, closed_at FROM positions ORDER BY id"
    )
    assert [(r["symbol"], r["quantity"]) for r in rows] == [
        ("AAPL  261218P00180000", -2),
        ("MSFT", 10),
    ]
    aapl, msft = rows
    assert aapl["closed_at"] is None
    # Each check is due one interval after the last one ran, so the sync's checks
    # fall later by the real time each takes on the time-skipping server (start-up,
    # then a few ms per check: about 1 s by Monday after ~90 weekend checks, more
    # on a loaded machine). Seconds late, never a check early or late.
    assert timedelta(0) <= aapl["opened_at"] - new_york(saturday, 12) < CHECK_DRIFT
    # Seen at the first sync after it appeared (09:35) and after it vanished (09:55).
    assert timedelta(0) <= msft["opened_at"] - new_york(monday, 9, 35) < CHECK_DRIFT
    assert timedelta(0) <= msft["closed_at"] - new_york(monday, 9, 55) < CHECK_DRIFT

    triggers = await db_pool.fetch("SELECT alert_id, triggered_at FROM alert_triggers ORDER BY id")
    fired = [(t["alert_id"], t["triggered_at"]) for t in triggers]
    assert [a for a, _ in fired] == [delta_rule.alert_id, dte_rule.alert_id]
    # Delta reached 0.45 at 10:12 -> the 10:15 check; 3 days to expiry on Tuesday's open.
    assert abs(fired[0][1] - new_york(monday, 10, 15)) < timedelta(seconds=1)
    assert abs(fired[1][1] - new_york(tuesday, 9, 30)) < timedelta(seconds=1)

    keys = sorted(n.idempotency_key for n in channel.sent)
    assert len(keys) == len(set(keys)) == 5  # AAPL opened, MSFT opened + closed, 2 alerts
    assert sum(k.startswith("position-opened:") for k in keys) == 2
    assert sum(k.startswith("position-closed:") for k in keys) == 1
    assert sync_result.state.triggers == 3 and sync_result.state.errors == 0
    assert portfolio_result.state.triggers == 2
