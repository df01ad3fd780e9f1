"""Re-record the monitors' replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_monitors

Runs the real workflows and activities on a throw-away time-skipping server
and a private PostgreSQL (free ports), with the scripted broker of the
monitor tests (tests/helpers/monitor_fakes.py), and writes
tests/histories/<WorkflowType>-<case>[.runN].json. tests/replay/test_replay.py
replays them: a workflow change that would break monitors already running
fails there. The streaming price monitor runs on a throw-away dev server
instead: its stream runs in real time.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.histories import run_recorder, save_runs, workflow_id
from tests.helpers.monitor_fakes import (
    RecordingChannel,
    ScriptedBroker,
    TickingBroker,
    monitor_worker,
)
from tests.helpers.temporal import start_time_skipping, throwaway_dev_server
from tests.helpers.times import new_york
from tests.helpers.waiting import eventually
from ttai.broker.base import BrokerUnavailable
from ttai.db.alerts import AlertStore
from ttai.db.migrate import migrate
from ttai.db.pool import create_pool
from ttai.domain import market_calendar
from ttai.domain.market_calendar import NEW_YORK
from ttai.loopback import free_port
from ttai.models.alerts import AddAlertInput, AlertRuleSpec
from ttai.models.market import Position
from ttai.models.monitors import MonitorInput, MonitorStatus, SetIntervalInput
from ttai.models.notifications import Notification
from ttai.notify.outbox import enqueue
from ttai.servers.postgres import PrivatePostgres

TASK_QUEUE = "record-monitors"


async def record_price_monitor(env: WorkflowEnvironment, broker: ScriptedBroker) -> None:
    case = "PriceAlertMonitorWorkflow-steering"
    client = env.client
    handle = await client.start_workflow(
        "PriceAlertMonitorWorkflow",
        MonitorInput(hours="always", interval_seconds=60, max_iterations_per_run=3),
        id=workflow_id(case),
        task_queue=TASK_QUEUE,
    )
    for spec in (
        {"condition": "crosses_up", "threshold": 110},
        {"condition": "price_below", "threshold": 50, "mode": "rearm", "cooldown_seconds": 600},
    ):
        rule = AlertRuleSpec.model_validate({"symbol": "AAPL", **spec})
        await handle.execute_update("add_alert", AddAlertInput(rule=rule))
    try:
        rule = AlertRuleSpec(symbol="ZZZZ", condition="price_above", threshold=1)
        await handle.execute_update("add_alert", AddAlertInput(rule=rule))
    except WorkflowUpdateFailedError:
        pass  # the unknown symbol fails the update, in history
    await env.sleep(timedelta(seconds=150))
    await handle.signal("pause", {})
    await env.sleep(timedelta(seconds=300))
    await handle.execute_update("set_interval", SetIntervalInput(interval_seconds=120))
    await handle.signal("check_now", {})
    await env.sleep(timedelta(seconds=1))
    await handle.signal("resume", {})
    await env.sleep(timedelta(seconds=250))
    broker.prices["AAPL"] = lambda _: 111.0
    await env.sleep(timedelta(seconds=250))
    await handle.execute_update("remove_alert", {"alert_id": 2})
    await handle.execute_update("list_alerts", {"include_inactive": True})
    await handle.cancel()
    await handle.result()
    await save_runs(client, handle, case)


async def record_weekend(env: WorkflowEnvironment, pool: object) -> None:
    """Portfolio and sync monitors from a Saturday to Monday 10:30 (regular hours)."""
    now = await env.get_current_time()
    monday = now.astimezone(NEW_YORK).date() + timedelta(days=3)
    while monday.weekday() != 0 or not market_calendar.session_on(monday):
        monday += timedelta(days=1)
    saturday = monday - timedelta(days=2)
    await env.sleep(new_york(saturday, 12) - now)
    handles = {}
    for case, workflow, request in (
        (
            "PortfolioMonitorWorkflow-weekend",
            "PortfolioMonitorWorkflow",
            MonitorInput(interval_seconds=600),
        ),
        (
            "PositionSyncWorkflow-weekend",
            "PositionSyncWorkflow",
            MonitorInput(off_hours_interval_seconds=7200),
        ),
    ):
        handles[case] = await env.client.start_workflow(
            workflow, request, id=workflow_id(case), task_queue=TASK_QUEUE
        )
    await env.sleep(new_york(monday, 10, 30) - await env.get_current_time())
    for case, handle in handles.items():
        await handle.cancel()
        await handle.result()
        await save_runs(env.client, handle, case)


async def record_outbox(env: WorkflowEnvironment, pool: asyncpg.Pool) -> None:
    """The outbox monitor delivers a row left pending (a crash, a refusing channel)."""
    case = "OutboxMonitorWorkflow-delivers"
    async with pool.acquire() as conn:
        await enqueue(
            conn, Notification(idempotency_key="record-outbox", kind="test", title="t", body="b")
        )
    handle = await env.client.start_workflow(
        "OutboxMonitorWorkflow",
        MonitorInput(interval_seconds=60),
        id=workflow_id(case),
        task_queue=TASK_QUEUE,
    )
    await env.sleep(timedelta(seconds=150))
    await handle.signal("check_now", {})
    await env.sleep(timedelta(seconds=1))
    await handle.cancel()
    await handle.result()
    await save_runs(env.client, handle, case)


async def record_streaming(pool: asyncpg.Pool) -> None:
    """The price monitor streaming (on a dev server: the stream runs in real time): a
    rule fires on the stream; paused, it hands the stream back; resumed, it streams
    again; a stream that keeps failing falls back to polling; continue-as-new
    carries the backoff over, and the next run streams again after it."""
    case = "PriceAlertMonitorWorkflow-streaming"
    prices = {"AAPL": 100.0}
    broker = TickingBroker({"AAPL": lambda _: prices["AAPL"]}, every=0.1)
    async with (
        throwaway_dev_server() as client,
        monitor_worker(client, pool, broker, RecordingChannel(), TASK_QUEUE),
    ):
        handle = await client.start_workflow(
            "PriceAlertMonitorWorkflow",
            MonitorInput(hours="always", interval_seconds=600, max_iterations_per_run=3),
            id=workflow_id(case),
            task_queue=TASK_QUEUE,
        )

        async def mode(mode: str, **state: object) -> MonitorStatus:
            return await eventually(
                lambda: handle.query("status", result_type=MonitorStatus),
                what=f"{mode} {state}",
                until=lambda s: (
                    s.mode == mode and all(getattr(s.state, k) == v for k, v in state.items())
                ),
                retrying=RPCError,
                within=300,
            )

        await mode("streaming")
        rule = await AlertStore(pool).create(
            "record-stream", AlertRuleSpec(symbol="AAPL", condition="crosses_up", threshold=110)
        )
        await eventually(lambda: broker.subscriptions[-1], what="AAPL streamed")
        prices["AAPL"] = 111.0
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) FROM alert_triggers WHERE alert_id = $1", rule.alert_id
            ),
            what="a firing",
        )
        await handle.signal("pause", {})
        await mode("polling", paused=True)
        await handle.signal("resume", {})
        await mode("streaming", streams=2)
        broker.fail_stream_with = BrokerUnavailable("the feed is down")
        await mode("polling", stream_failures=1)
        broker.fail_stream_with = None
        while (await handle.query("status", result_type=MonitorStatus)).state.runs == 1:
            await handle.signal("check_now", {})
            await asyncio.sleep(0.5)
        await mode("streaming", runs=2)  # after the backoff
        await handle.cancel()
        await handle.result()
        await save_runs(client, handle, case)


async def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        async with PrivatePostgres(
            Path(state), port=free_port(), port_env_var=None, durable=False
        ) as postgres:
            pool = await create_pool(postgres.dsn)
            await migrate(pool)
            await AlertStore(pool).create(
                "record-delta",
                AlertRuleSpec(symbol="AAPL", condition="delta_at_least", threshold=0.4),
            )
            env = await start_time_skipping()

            def positions(at: datetime) -> list[Position]:
                return [
                    Position(
                        account="A1",
                        symbol="AAPL",
                        underlying="AAPL",
                        instrument="option",
                        quantity=-1,
                        average_open_price=2,
                        expiration=(at + timedelta(days=30)).date(),
                        delta=-0.45 if at.astimezone(NEW_YORK).weekday() == 0 else -0.2,
                    )
                ]

            broker = ScriptedBroker({"AAPL": lambda _: 100.0}, positions=positions)
            try:
                async with monitor_worker(env.client, pool, broker, RecordingChannel(), TASK_QUEUE):
                    await record_price_monitor(env, broker)
                    await record_weekend(env, pool)
                    await record_outbox(env, pool)
            finally:
                await env.shutdown()
            try:
                await record_streaming(pool)
            finally:
                await pool.close()


if __name__ == "__main__":
    run_recorder(main)
