"""The quote stream survives the worker holding it: kill -9, two worker processes.

Two worker processes poll the same queues; one of them holds the price
monitor's stream. It is killed with SIGKILL right after a firing, and a price
crosses an alert level while nobody streams. The stream resumes on the other
process once its heartbeats stop (the stream's heartbeat timeout: 10 s), from
the last prices it heard of: the crossing of the gap fires once, the firing
before the kill is not repeated, and every notification is sent exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest_asyncio
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse
from temporalio.client import Client

from tests.helpers.waiting import eventually
from tests.helpers.worker_processes import pollers, worker_pid
from ttai.config import PROJECT_ROOT
from ttai.db.alerts import AlertStore
from ttai.models.alerts import AlertRuleSpec
from ttai.models.monitors import MonitorInput, MonitorStatus, StreamProgress
from ttai.temporal.client import data_converter
from ttai.temporal.lanes import STREAM, lane_queue
from ttai.temporal.steps import STREAM as STREAM_PRESET
from workflows.monitors import PriceAlertMonitorWorkflow

MONITOR_ID = "monitor-price-alerts"
WORKER_MODULE = "tests.helpers.stream_worker_process"


class Workers:
    def __init__(self, client: Client, task_queue: str, dsn: str, folder: Path) -> None:
        self.client = client
        self.task_queue = task_queue
        self.dsn = dsn
        self.folder = folder
        self.sent = folder / "sent.txt"
        self.prices_file = folder / "prices.json"
        self.processes: list[asyncio.subprocess.Process] = []

    def prices(self, **prices: float) -> None:
        """Move prices (atomically: a worker may be reading the file)."""
        current = json.loads(self.prices_file.read_text()) if self.prices_file.exists() else {}
        staged = self.prices_file.with_suffix(".tmp")
        staged.write_text(json.dumps(current | prices))
        os.replace(staged, self.prices_file)

    async def spawn(self) -> asyncio.subprocess.Process:
        address = self.client.service_client.config.target_host
        args = [address, self.task_queue, self.dsn, str(self.sent), str(self.prices_file)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            *args,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(self.folder / f"worker{len(self.processes)}.log").open("w"),
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.folder.glob("worker*.log")))


@pytest_asyncio.fixture(loop_scope="session")
async def workers(
    make_dev_server: Callable[..., Awaitable[object]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Workers]:
    server = await make_dev_server()  # the monitor runs under its fixed ID
    client = await Client.connect(server.address, data_converter=data_converter())  # type: ignore[attr-defined]
    spawned = Workers(client, task_queue, database_url, tmp_path)
    spawned.prices(AAPL=100.0, MSFT=400.0)
    yield spawned
    for process in spawned.processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stream_activity(client: Client) -> DescribeWorkflowExecutionResponse:
    return (await client.get_workflow_handle(MONITOR_ID).describe()).raw_description


async def holder(client: Client) -> tuple[str, int, StreamProgress] | None:
    """The stream's worker PID, attempt and last heartbeat, once it has sent one."""
    for pending in (await stream_activity(client)).pending_activities:
        if pending.activity_type.name == "stream_price_alerts" and pending.last_worker_identity:
            details = pending.heartbeat_details.payloads
            if not details:
                return None
            [progress] = await client.data_converter.decode(details, [StreamProgress])
            return worker_pid(pending.last_worker_identity), pending.attempt, progress
    return None


async def test_a_killed_stream_resumes_on_the_other_worker_exactly_once(
    workers: Workers, db_pool: asyncpg.Pool
) -> None:
    assert STREAM_PRESET.heartbeat is not None and STREAM_PRESET.heartbeat.total_seconds() <= 15
    client = workers.client
    first, second = await workers.spawn(), await workers.spawn()
    stream_queue = lane_queue(workers.task_queue, STREAM)

    async def both_polling() -> bool:
        for process in workers.processes:
            assert process.returncode is None, f"a worker exited\n{workers.logs()}"
        return len(await pollers(client, stream_queue)) >= 2

    await eventually(both_polling, what="both workers polling the stream lane", within=60)
    store = AlertStore(db_pool)
    rule = AlertRuleSpec.model_validate
    aapl = await store.create(
        "aapl", rule({"symbol": "AAPL", "condition": "crosses_up", "threshold": 110})
    )
    msft = await store.create(
        "msft",
        rule({"symbol": "MSFT", "condition": "crosses_up", "threshold": 410, "mode": "rearm"}),
    )
    later = await store.create(
        "later", rule({"symbol": "MSFT", "condition": "crosses_up", "threshold": 415})
    )
    await client.start_workflow(
        PriceAlertMonitorWorkflow.run,
        MonitorInput(hours="always", interval_seconds=3600),
        id=MONITOR_ID,
        task_queue=workers.task_queue,
    )

    async def streaming_both() -> tuple[str, int, StreamProgress] | None:
        found = await holder(client)
        return found if found and found[2].last_prices.keys() == {"AAPL", "MSFT"} else None

    pid, attempt, _ = await eventually(streaming_both, what="the stream on one worker")
    assert attempt == 1
    by_pid = {str(p.pid): p for p in (first, second)}
    doomed, survivor = by_pid[pid], next(p for p in (first, second) if str(p.pid) != pid)

    async def triggers() -> list[tuple[int, int, float]]:
        rows = await db_pool.fetch(
            "SELECT alert_id, sequence, observed FROM alert_triggers ORDER BY id"
        )
        return [(r["alert_id"], r["sequence"], r["observed"]) for r in rows]

    # MSFT crosses: fired on the stream. Killed right after, AAPL crosses in the gap.
    workers.prices(MSFT=411.0)
    await eventually(triggers, what="MSFT's crossing", until=[(msft.alert_id, 1, 411.0)].__eq__)
    doomed.kill()
    killed_at = time.monotonic()
    assert await doomed.wait() == -9
    workers.prices(AAPL=111.0)

    async def resumed() -> tuple[str, int, StreamProgress] | None:
        found = await holder(client)
        return found if found and found[0] == str(survivor.pid) and found[1] >= 2 else None

    await eventually(resumed, what="the stream to resume on the other worker", within=90)
    print(f"stream resumed on the other worker {time.monotonic() - killed_at:.1f} s after the kill")
    await eventually(triggers, what="the gap's crossing", until=lambda rows: len(rows) >= 2)
    # A new crossing, on the resumed stream.
    workers.prices(MSFT=416.0)
    await eventually(triggers, what="MSFT's next crossing", until=lambda rows: len(rows) >= 3)
    expected = [(msft.alert_id, 1, 411.0), (aapl.alert_id, 1, 111.0), (later.alert_id, 1, 416.0)]
    assert await triggers() == expected

    keys = {f"alert:{a}:{s}" for a, s, _ in expected}

    async def all_sent() -> list[str]:
        return workers.sent.read_text().split() if workers.sent.exists() else []

    await eventually(all_sent, what="every notification sent", until=lambda sent: set(sent) >= keys)
    assert sorted(await all_sent()) == sorted(keys), "each notification sent exactly once"
    status: MonitorStatus = await client.get_workflow_handle(MONITOR_ID).query(
        PriceAlertMonitorWorkflow.status
    )
    assert status.mode == "streaming" and status.state.streams == 1  # the same stream, resumed
    await client.get_workflow_handle(MONITOR_ID).cancel()
