"""Monitors on the dev server with PostgreSQL: start idempotently, survive killed workers.

Three worker processes in turn run the monitors: the first is killed
with SIGKILL at an arbitrary moment, the second dies inside its first
notification delivery (after the trigger and outbox row were committed), the
third finishes the job. Every monitor must resume, and every notification must
be sent exactly once.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from tests.helpers.monitor_fakes import RecordingChannel, ScriptedBroker, monitor_worker, wall_clock
from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT, Settings
from ttai.models.alerts import AddAlertInput, AlertRule, AlertRuleSpec
from ttai.models.monitors import MONITOR_TYPES, MonitorInput, MonitorStatus
from ttai.temporal.bootstrap import ensure_monitors
from ttai.temporal.client import data_converter
from workflows.monitors import PriceAlertMonitorWorkflow

WORKER_MODULE = "tests.helpers.monitor_worker_process"
INPUTS = {
    "monitor-price-alerts": MonitorInput(hours="always", interval_seconds=5),
    "monitor-portfolio": MonitorInput(hours="always", interval_seconds=10),
    "monitor-position-sync": MonitorInput(hours="always", interval_seconds=30),
}


@pytest_asyncio.fixture(loop_scope="session")
async def own_client(make_dev_server: Callable[..., Awaitable[object]]) -> Client:
    # Its own server: the monitors use their fixed production IDs here.
    server = await make_dev_server()
    return await Client.connect(server.address, data_converter=data_converter())  # type: ignore[attr-defined]


@pytest_asyncio.fixture(loop_scope="session")
async def spawn_worker(
    own_client: Client, database_url: str, task_queue: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[asyncio.subprocess.Process]]]:
    processes: list[asyncio.subprocess.Process] = []
    address = own_client.service_client.config.target_host

    async def spawn(cross_at: float, *, crash_on_send: bool = False) -> asyncio.subprocess.Process:
        args = ["-m", WORKER_MODULE, address, task_queue, database_url, str(tmp_path / "sent.txt")]
        args += [str(cross_at)] + (["--crash-on-send"] if crash_on_send else [])
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(tmp_path / f"worker{len(processes)}.log").open("w"),
        )
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_killed_workers_resume_monitors_without_duplicate_notifications(
    own_client: Client,
    spawn_worker: Callable[..., Awaitable[asyncio.subprocess.Process]],
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
) -> None:
    client = own_client
    settings = Settings(task_queue=task_queue)
    far_future = time.time() + 3600
    first = await spawn_worker(far_future)

    ids = await ensure_monitors(client, settings, inputs=INPUTS)
    assert ids == list(MONITOR_TYPES)
    runs = [(await client.get_workflow_handle(i).describe()).run_id for i in ids]
    # Starting again while they run is not an error and starts nothing new.
    assert await ensure_monitors(client, settings, inputs=INPUTS) == ids
    assert [(await client.get_workflow_handle(i).describe()).run_id for i in ids] == runs

    price = client.get_workflow_handle("monitor-price-alerts")
    rule: AlertRule = await price.execute_update(
        "add_alert",
        AddAlertInput(rule=AlertRuleSpec(symbol="AAPL", condition="crosses_up", threshold=110)),
        result_type=AlertRule,
    )
    sent = tmp_path / "sent.txt"

    async def status(workflow_id: str) -> MonitorStatus:
        return await client.get_workflow_handle(workflow_id).query(
            "status", result_type=MonitorStatus
        )

    async def checked(counts: dict[str, int]) -> bool:
        try:
            done = [(await status(i)).state.iterations > n for i, n in counts.items()]
        except RPCError:  # queries need a polling worker; a new one may not poll yet
            return False
        return all(done)

    async def snapshot() -> dict[str, int]:
        return {i: (await status(i)).state.iterations for i in ids}

    await eventually(lambda: checked(dict.fromkeys(ids, 0)), what="every monitor's first check")

    async def saw_aapl_below() -> bool:
        return (await status("monitor-price-alerts")).state.last_prices == {"AAPL": 100.0}

    # A crossing needs a price on the other side first.
    await eventually(saw_aapl_below, what="the price monitor to see AAPL at 100")
    before_kill = await snapshot()
    first.kill()  # SIGKILL at an arbitrary moment
    await first.wait()

    cross_at = time.time() + 2
    second = await spawn_worker(cross_at, crash_on_send=True)
    # It dies inside its first send: the alert's or the new MSFT position's.
    assert await asyncio.wait_for(second.wait(), 120) == 137

    await spawn_worker(cross_at)
    await eventually(lambda: checked(before_kill), what="every monitor to resume")
    on_third = await snapshot()
    await eventually(lambda: checked(on_third), what="every monitor to check on the third worker")
    expected = {f"alert:{rule.alert_id}:1"}
    position_ids = dict(await db_pool.fetch("SELECT symbol, id FROM positions"))
    expected.add(f"position-opened:{position_ids['AAPL']}")

    async def all_delivered() -> bool:
        rows = await db_pool.fetch(
            "SELECT idempotency_key FROM notifications WHERE status = 'delivered'"
        )
        keys = {r["idempotency_key"] for r in rows}
        return len(keys) >= 3 and expected <= keys

    await eventually(all_delivered, what="the alert and both position notifications")

    position_ids = dict(await db_pool.fetch("SELECT symbol, id FROM positions"))
    expected.add(f"position-opened:{position_ids['MSFT']}")
    lines = sent.read_text().split()
    assert sorted(lines) == sorted(expected), "each notification sent exactly once"
    rows = await db_pool.fetch("SELECT idempotency_key, status, attempts FROM notifications")
    assert {r["idempotency_key"] for r in rows} == expected
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows)
    assert await db_pool.fetchval("SELECT count(*) FROM alert_triggers") == 1
    for workflow_id in ids:
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(workflow_id).cancel()


async def test_suggested_continue_as_new_carries_state(
    make_dev_server: Callable[..., Awaitable[object]], db_pool: asyncpg.Pool, task_queue: str
) -> None:
    # The server suggests continue-as-new after 20 events (about two checks).
    server = await make_dev_server(dynamic_config={"limit.historyCount.suggestContinueAsNew": 20})
    client = await Client.connect(server.address, data_converter=data_converter())  # type: ignore[attr-defined]
    broker = ScriptedBroker({"AAPL": lambda _: 100.0}, clock=wall_clock)
    async with monitor_worker(client, db_pool, broker, RecordingChannel(), task_queue):
        handle = await client.start_workflow(
            PriceAlertMonitorWorkflow.run,
            MonitorInput(hours="always", interval_seconds=3600),
            id=f"price-{task_queue}",
            task_queue=task_queue,
        )
        first_run = handle.first_execution_run_id
        rule = AlertRuleSpec(symbol="AAPL", condition="crosses_up", threshold=110)
        await handle.execute_update(PriceAlertMonitorWorkflow.add_alert, AddAlertInput(rule=rule))
        await handle.signal(PriceAlertMonitorWorkflow.pause)
        for _ in range(6):  # each check_now is one check, even while paused
            before = (await handle.query(PriceAlertMonitorWorkflow.status)).state.iterations
            await handle.signal(PriceAlertMonitorWorkflow.check_now)

            async def checked(before: int = before) -> bool:
                status = await handle.query(PriceAlertMonitorWorkflow.status)
                return status.state.iterations > before

            await eventually(checked, what="a requested check")
        status: MonitorStatus = await handle.query(PriceAlertMonitorWorkflow.status)
        assert status.state.runs >= 3, "the server's suggestion was followed"
        assert status.history_length < 40
        assert status.state.paused and status.state.iterations == 7
        assert status.state.last_prices == {"AAPL": 100.0}
        assert (await handle.describe()).run_id != first_run

        # Updates alone (no checks: paused) also lead to a continue-as-new.
        for _ in range(6):
            listed = await handle.execute_update(PriceAlertMonitorWorkflow.list_alerts)
            assert len(listed.alerts) == 1
        later: MonitorStatus = await handle.query(PriceAlertMonitorWorkflow.status)
        assert later.state.runs > status.state.runs and later.state.iterations == 7
        assert later.state.paused and later.history_length < 40
        await handle.cancel()
