"""Scale-out for real: two `worker.py` processes on one task queue, one killed
with SIGKILL in the middle of a screen; the screen still completes and every
symbol is analysed exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from ttai.broker.simulated import KNOWN_SYMBOLS
from ttai.config import PROJECT_ROOT
from ttai.models.screener import ScreenInput, ScreenProgress, ScreenResult
from ttai.stack.temporal_server import TemporalDevServer

SYMBOLS = 30
# Bounded waits, not timing asserts: generous for a busy 2-core machine.
STARTUP_WAIT = 60.0
SCREEN_WAIT = 240.0


@pytest.fixture
def workers(
    dev_server: TemporalDevServer, database_url: str, task_queue: str, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TTAI_", "TEMPORAL_", "OTEL_", "TT_"))
    }
    env.update(
        TEMPORAL_ADDRESS=dev_server.address,
        TEMPORAL_NAMESPACE=dev_server.namespace,
        DATABASE_URL=database_url,
        TTAI_TASK_QUEUE=task_queue,
        TTAI_STATE_DIR=str(tmp_path / "state"),
    )
    processes = []
    for n in range(2):
        log = (tmp_path / f"worker-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _pollers(client: Client, task_queue: str) -> set[str]:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return {poller.identity for poller in response.pollers}


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    """Poll `check` every 0.2 s until it holds; fail after about `seconds`."""
    for _ in range(int(seconds / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"not reached within {seconds:.0f} s: {what}")


def _logs(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
        for path in sorted(tmp_path.glob("worker-*.log"))
    )


async def test_screen_survives_a_killed_worker(
    client: Client,
    workers: list[subprocess.Popen[bytes]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    async def both_polling() -> bool:
        for process in workers:
            assert process.poll() is None, f"a worker exited early\n{_logs(tmp_path)}"
        return len(await _pollers(client, task_queue)) >= 2

    await _eventually(both_polling, STARTUP_WAIT, "two workers polling")

    symbols = sorted(KNOWN_SYMBOLS)[:SYMBOLS]
    assert len(symbols) == SYMBOLS
    screen_id = f"screen-scale-{uuid.uuid4()}"
    handle = await client.start_workflow(
        "ScreenerWorkflow",
        ScreenInput(symbols=symbols, max_concurrent=6),
        id=screen_id,
        task_queue=task_queue,
        result_type=ScreenResult,
    )

    async def some_done() -> bool:
        progress = await handle.query("progress", result_type=ScreenProgress)
        return progress.done >= 4

    await _eventually(some_done, SCREEN_WAIT, "first analyses done")
    progress = await handle.query("progress", result_type=ScreenProgress)
    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # Mid-way: the kill lands while analyses are still outstanding.
    assert progress.done < SYMBOLS

    async with asyncio.timeout(SCREEN_WAIT):
        result = await handle.result()
    assert workers[1].poll() is None, _logs(tmp_path)

    assert result.status == "completed"
    assert result.total == SYMBOLS
    assert result.failed == 0, result.failures
    assert result.analysed == SYMBOLS

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT symbol, count(*) AS n FROM analyses WHERE screen_id = $1 GROUP BY symbol",
            screen_id,
        )
    finally:
        await conn.close()
    counts = {row["symbol"]: row["n"] for row in rows}
    assert counts == dict.fromkeys(symbols, 1)

    # Both workers really took part: activity starts carry each one's identity.
    identities: set[str] = set()
    for symbol in symbols:
        history = await client.get_workflow_handle(f"{screen_id}/{symbol}").fetch_history()
        identities |= {
            event.activity_task_started_event_attributes.identity
            for event in history.events
            if event.HasField("activity_task_started_event_attributes")
        }
    pids = {identity.split("@", 1)[0] for identity in identities}
    assert {str(workers[0].pid), str(workers[1].pid)} <= pids
