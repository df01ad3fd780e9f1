"""A scripted Thanksgiving trading week on the time-skipping server, with PostgreSQL.

Prices are functions of the server's clock. Checks run every 30 minutes
while NYSE is open, so each alert must fire at one known check: the first
open-market check after its condition became true — never on the holiday,
never after the early close, and only once (or once per crossing for a
rearmed rule).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import asyncpg
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.helpers.monitor_fakes import (
    RecordingChannel,
    ScriptedBroker,
    monitor_worker,
)
from tests.helpers.times import new_york
from ttai.domain import market_calendar
from ttai.models.alerts import AddAlertInput, AlertRule, AlertRuleSpec
from ttai.models.monitors import MonitorInput, MonitorResult, MonitorStatus
from workflows.monitors import PriceAlertMonitorWorkflow


def thanksgiving_monday(after: datetime) -> date:
    """Monday of the first Thanksgiving week (4th Thursday of November) after `after`."""
    year = after.year
    while True:
        first = date(year, 11, 1)
        thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
        monday = thursday - timedelta(days=3)
        if new_york(monday, 0) > after + timedelta(days=2):
            return monday
        year += 1


async def test_alerts_fire_exactly_once_when_they_should_over_a_holiday_week(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> None:
    env = time_skipping_env
    monday = thanksgiving_monday(await env.get_current_time())
    tue, wed, thu, fri, next_mon = (monday + timedelta(days=d) for d in (1, 2, 3, 4, 7))
    # The week really has what this test is about.
    assert thu in market_calendar.closed_weekdays(monday, fri)
    friday = market_calendar.session_on(fri)
    assert friday is not None and friday.close == new_york(fri, 13)

    def aapl(at: datetime) -> float:
        steps = [
            (new_york(tue, 10, 45), 111.0),  # crosses up through 110 (seen by the 11:00 check)
            (new_york(tue, 13, 45), 108.0),  # back below
            (new_york(tue, 14, 45), 112.0),  # crosses up again (15:00 check)
            (new_york(thu, 12), 95.0),  # crosses down through 100 on the holiday
            (new_york(fri, 13, 30), 131.0),  # above 130 only after the early close
        ]
        price = 100.0
        for start, value in steps:
            if at >= start:
                price = value
        return price

    def iv_rank(at: datetime) -> float:
        return 70.0 if at >= new_york(wed, 9, 45) else 40.0

    broker = ScriptedBroker({"AAPL": aapl, "MSFT": lambda _: 400.0}, iv_ranks={"AAPL": iv_rank})
    channel = RecordingChannel()
    await env.sleep(new_york(monday - timedelta(days=1), 12) - await env.get_current_time())

    rules = {
        "cross_once": {"condition": "crosses_up", "threshold": 110},
        "cross_rearm": {
            "condition": "crosses_up",
            "threshold": 110,
            "mode": "rearm",
            "cooldown_seconds": 3600,
        },
        "down_on_holiday": {"condition": "crosses_down", "threshold": 100},
        "after_early_close": {"condition": "price_above", "threshold": 130},
        "iv": {"condition": "iv_rank_above", "threshold": 60},
        "never": {"condition": "price_below", "threshold": 90},
        "expired": {"condition": "price_above", "threshold": 105, "expires_at": new_york(tue, 10)},
        "msft": {"symbol": "MSFT", "condition": "price_below", "threshold": 1},
    }
    expected = {
        "cross_once": [new_york(tue, 11)],
        # The gap from Friday's 95 to Monday's 131 crosses 110 too.
        "cross_rearm": [new_york(tue, 11), new_york(tue, 15), new_york(next_mon, 9, 30)],
        "down_on_holiday": [new_york(fri, 9, 30)],
        "after_early_close": [new_york(next_mon, 9, 30)],
        "iv": [new_york(wed, 10)],
        "never": [],
        "expired": [],
        "msft": [],
    }

    async with monitor_worker(env.client, db_pool, broker, channel, task_queue):
        handle: WorkflowHandle = await env.client.start_workflow(
            PriceAlertMonitorWorkflow.run,
            MonitorInput(interval_seconds=1800),
            id=f"monitor-price-alerts-{task_queue}",
            task_queue=task_queue,
        )
        ids: dict[str, int] = {}
        for name, spec in rules.items():
            created: AlertRule = await handle.execute_update(
                PriceAlertMonitorWorkflow.add_alert,
                AddAlertInput(rule=AlertRuleSpec.model_validate({"symbol": "AAPL"} | spec)),
            )
            ids[name] = created.alert_id
        await env.sleep(new_york(next_mon, 11, 45) - await env.get_current_time())
        status: MonitorStatus = await handle.query(PriceAlertMonitorWorkflow.status)
        await handle.cancel()
        result: MonitorResult = await handle.result()

    triggers = await db_pool.fetch(
        "SELECT alert_id, sequence, triggered_at FROM alert_triggers ORDER BY alert_id, sequence"
    )
    fired = {name: [] for name in rules}
    by_id = {v: k for k, v in ids.items()}
    for row in triggers:
        fired[by_id[row["alert_id"]]].append(row["triggered_at"])
    for name, times in expected.items():
        got = fired[name]
        assert len(got) == len(times), f"{name}: fired at {got}, expected {times}"
        for at, want in zip(got, times, strict=True):
            # The check runs when its timer fires: within a second of the grid time.
            assert timedelta(0) <= at - want < timedelta(seconds=1), f"{name}: {at} != {want}"

    statuses = dict(await db_pool.fetch("SELECT id, status FROM alert_rules"))
    assert statuses[ids["cross_once"]] == "triggered"
    assert statuses[ids["cross_rearm"]] == "active"
    assert statuses[ids["expired"]] == "expired"
    assert statuses[ids["never"]] == "active"

    # One notification per check that fired (rules firing together share one), each
    # delivered exactly once.
    total = sum(len(v) for v in expected.values())
    checks_that_fired = {at for times in expected.values() for at in times}
    notes = await db_pool.fetch("SELECT idempotency_key, status FROM notifications")
    assert len(notes) == len(checks_that_fired) < total
    assert all(n["status"] == "delivered" for n in notes)
    assert sorted(n.idempotency_key for n in channel.sent) == sorted(
        n["idempotency_key"] for n in notes
    )

    # Every check made one batched quote call; none ran on the holiday or after 13:00 Friday.
    checks_per_day = {monday: 13, tue: 13, wed: 13, fri: 7, next_mon: 5}  # 09:30 ... every 30 min
    assert result.state.iterations == sum(checks_per_day.values())
    # + one call per add_alert (its symbol check); every check asks for both symbols at once.
    assert len(broker.quote_calls) == result.state.iterations + len(rules)
    assert broker.quote_calls[len(rules) :] == [["AAPL", "MSFT"]] * result.state.iterations
    assert result.state.triggers == total and result.state.errors == 0
    assert status.state.last_prices == {"AAPL": 131.0, "MSFT": 400.0}
    assert result.stopped_at >= new_york(next_mon, 11, 45)
