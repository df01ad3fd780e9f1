"""Scale-out and crashes for real: `worker.py` processes on one task queue.

- One of two workers killed with SIGKILL in the middle of a screen: the screen
  completes and every symbol is analyzed exactly once.
- A kill -9 of everything (both workers, the Temporal server, PostgreSQL) in
  the middle of a screen, then everything started again on the same data: the
  screen completes with exactly one saved analysis per symbol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from tests.helpers.screens import analyses_per_symbol, start_screen, wait_for_progress
from tests.helpers.waiting import eventually
from tests.helpers.worker_processes import (
    SCREEN_WAIT,
    logs,
    running_workers,
    start_workers,
    stop_workers,
    wait_all_polling,
    worker_env,
    worker_pid,
)
from ttai.broker.simulated.universe import KNOWN_SYMBOLS, listed_symbols
from ttai.loopback import free_port
from ttai.models.screener import ScreenInput, ScreenProgress, ScreenResult
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer
from ttai.temporal.client import data_converter

SYMBOLS = 30
LATENCY_MS = 100  # per broker call, so each symbol takes ~0.3 s


@pytest.fixture
def workers(
    dev_server: TemporalDevServer, database_url: str, task_queue: str, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = worker_env(
        dev_server.address,
        dev_server.namespace,
        database_url,
        task_queue,
        tmp_path / "state",
        # A real broker's pace: the screen is still running when the kill lands.
        TTAI_SIMULATED_LATENCY_MS=str(LATENCY_MS),
    )
    with running_workers(2, env, tmp_path) as processes:
        yield processes


async def test_screen_survives_a_killed_worker(
    client: Client,
    workers: list[subprocess.Popen[bytes]],
    database_url: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    await wait_all_polling(client, task_queue, workers, tmp_path)

    symbols = sorted(KNOWN_SYMBOLS)[:SYMBOLS]
    assert len(symbols) == SYMBOLS
    handle = await start_screen(
        client, task_queue, ScreenInput(symbols=symbols, max_concurrent=6), "screen-scale"
    )

    await wait_for_progress(handle, lambda p: p.done >= 4, SCREEN_WAIT)
    # The victim: a worker running one of the screen's analyses right now.
    by_pid = {str(process.pid): process for process in workers}
    running = await eventually(
        lambda: running_on(handle),
        what="an analysis running on a worker",
        until=lambda pids: pids & by_pid.keys(),
        within=SCREEN_WAIT,
    )
    progress = await handle.query("progress", result_type=ScreenProgress)
    victim = by_pid[sorted(running & by_pid.keys())[0]]
    survivor = next(process for process in workers if process is not victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # Mid-way: the kill lands while analyses are still outstanding.
    assert progress.done < SYMBOLS

    async with asyncio.timeout(SCREEN_WAIT):
        result = await handle.result()
    assert survivor.poll() is None, logs(tmp_path)

    assert result.status == "completed"
    assert result.total == SYMBOLS
    assert result.failed == 0, result.failures
    assert result.analyzed == SYMBOLS

    conn = await asyncpg.connect(database_url)
    try:
        assert await analyses_per_symbol(conn, handle.id) == dict.fromkeys(symbols, 1)
    finally:
        await conn.close()

    # The survivor finished what the victim was running when it died.
    assert str(survivor.pid) in await started_by(handle)


async def started_by(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """The PIDs of the workers that started the screen's activities."""
    identities = {
        event.activity_task_started_event_attributes.identity
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    }
    return {worker_pid(identity) for identity in identities}


async def running_on(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """The PIDs of the workers running the screen's activities now."""
    described = await handle.describe()
    return {
        worker_pid(activity.last_worker_identity)
        for activity in described.raw_description.pending_activities
        if activity.last_worker_identity
        and activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    }


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def test_kill_9_of_everything_mid_screen(tmp_path: Path, task_queue: str) -> None:
    """Workers, Temporal server and PostgreSQL all SIGKILLed at once mid-screen,
    then started again on the same files: exactly one analysis per symbol."""
    symbols = listed_symbols()[60:100]
    postgres = PrivatePostgres(tmp_path / "pg", port=free_port(), port_env_var=None)
    port = free_port()

    def server() -> TemporalDevServer:
        return TemporalDevServer(
            log_path=tmp_path / "temporal.log",
            port=port,
            db_file=tmp_path / "temporal.db",
            port_env_var=None,
        )

    temporal = server()
    await postgres.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await temporal.start()
        env = worker_env(
            temporal.address,
            "default",
            postgres.dsn,
            task_queue,
            tmp_path / "s",
            TTAI_SIMULATED_LATENCY_MS=str(LATENCY_MS),
        )
        client = await Client.connect(temporal.address, data_converter=data_converter())
        processes = start_workers(2, env, tmp_path)

        await wait_all_polling(client, f"{task_queue}-broker", processes, tmp_path)
        handle = await start_screen(
            client, task_queue, ScreenInput(symbols=symbols, max_concurrent=4), "screen-kill9"
        )

        await wait_for_progress(handle, lambda p: p.done >= 6, SCREEN_WAIT)
        at_kill = await handle.query("progress", result_type=ScreenProgress)
        pg_pid = int((postgres.folder.data_dir / "postmaster.pid").read_text().split()[0])
        temporal_pid = int(temporal.pid_file.read_text().split()[0])
        for pid in [*(p.pid for p in processes), temporal_pid, pg_pid]:
            _kill(pid)
        for process in processes:
            process.wait()
        await eventually(
            lambda: _gone(pg_pid, temporal_pid), what="PostgreSQL and Temporal dead", within=30
        )
        await temporal.stop()  # only forgets the dead process

        # Everything again, on the same files.
        await postgres.start()
        temporal = server()
        await temporal.start()
        client = await Client.connect(temporal.address, data_converter=data_converter())
        handle = client.get_workflow_handle(handle.id, result_type=ScreenResult)
        assert at_kill.done < len(symbols)  # killed mid-way
        processes += start_workers(2, env, tmp_path, first=2)
        async with asyncio.timeout(SCREEN_WAIT):
            result = await handle.result()
        assert (result.status, result.analyzed, result.failed) == ("completed", len(symbols), 0)
        conn = await asyncpg.connect(postgres.dsn)
        try:
            assert await analyses_per_symbol(conn, handle.id) == dict.fromkeys(symbols, 1)
        finally:
            await conn.close()
    finally:
        stop_workers(processes)
        await temporal.stop()
        await postgres.destroy()


def _gone(*pids: int | None) -> bool:
    return not any(pid is not None and psutil.pid_exists(pid) for pid in pids)
