"""Re-record the monitors' replay histories (on purpose, after a deliberate change).

    .venv/bin/python tests/histories/record_monitors.py

Runs the real workflows and activities on a throw-away time-skipping server
and a private PostgreSQL (free ports), with the scripted broker of the
monitor tests, and writes tests/histories/<WorkflowType>-<case>[.runN].json.
tests/test_monitors_replay.py replays them: a workflow change that would
break monitors already running fails there.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tests.history_files import write_history  # noqa: E402
from tests.test_monitors_fakes import RecordingChannel, ScriptedBroker, monitor_worker  # noqa: E402
from ttai.db.alerts import AlertStore  # noqa: E402
from ttai.db.migrate import migrate  # noqa: E402
from ttai.db.pool import create_pool  # noqa: E402
from ttai.domain import market_calendar  # noqa: E402
from ttai.domain.market_calendar import NEW_YORK  # noqa: E402
from ttai.models.alerts import AddAlertInput, AlertRuleSpec  # noqa: E402
from ttai.models.market import Position  # noqa: E402
from ttai.models.monitors import MonitorInput, SetIntervalInput  # noqa: E402
from ttai.stack.ports import free_port  # noqa: E402
from ttai.stack.postgres import PrivatePostgres  # noqa: E402
from ttai.temporal.client import data_converter  # noqa: E402

HERE = Path(__file__).resolve().parent
TASK_QUEUE = "record-monitors"


def workflow_id(case: str) -> str:
    """The ID a case runs under; the replay test derives it from the file name."""
    return f"record-{case}"


async def save_runs(client: Client, handle: WorkflowHandle, case: str) -> None:
    """Every run of the chain: `<case>.runN.json` for continued runs, `<case>.json` last."""
    run_id: str | None = handle.first_execution_run_id
    histories = []
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if continued
            else None
        )
    for number, history in enumerate(histories, start=1):
        name = case if number == len(histories) else f"{case}.run{number}"
        write_history(HERE / f"{name}.json", history)
        print("wrote", f"{name}.json")


def et(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK)


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
    await env.sleep(et(saturday, 12) - now)
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
    await env.sleep(et(monday, 10, 30) - await env.get_current_time())
    for case, handle in handles.items():
        await handle.cancel()
        await handle.result()
        await save_runs(env.client, handle, case)


async def main() -> None:
    binary = Path(sys.executable).parent / "temporal-test-server"
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
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(binary), data_converter=data_converter()
            )

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
            finally:
                await env.shutdown()
                await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
