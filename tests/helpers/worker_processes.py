"""`worker.py` processes for tests: their environment, start and stop, and
waiting on what they do (bounded waits, not timing asserts)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT

# Bounded waits, not timing asserts: generous for a busy 2-core machine.
STARTUP_WAIT = 60.0
SCREEN_WAIT = 240.0


def worker_env(address: str, namespace: str, database_url: str, task_queue: str, state: Path,
               **extra: str) -> dict[str, str]:  # fmt: skip
    """The environment of a `worker.py` process: this test's servers only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TTAI_", "TEMPORAL_", "OTEL_", "TT_", "DATABASE_URL"))
    }
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE=namespace,
        DATABASE_URL=database_url,
        TTAI_TASK_QUEUE=task_queue,
        TTAI_STATE_DIR=str(state),
        **extra,
    )
    return env


def start_workers(
    count: int, env: dict[str, str], logs: Path, first: int = 0
) -> list[subprocess.Popen[bytes]]:
    processes = []
    for n in range(first, first + count):
        log = (logs / f"worker-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


@contextlib.contextmanager
def running_workers(
    count: int, env: dict[str, str], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes for the length of the block, stopped after it."""
    processes = start_workers(count, env, logs)
    try:
        yield processes
    finally:
        stop_workers(processes)


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def pollers(client: Client, task_queue: str) -> set[str]:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return {poller.identity for poller in response.pollers}


async def wait_all_polling(
    client: Client, task_queue: str, processes: list[subprocess.Popen[bytes]], logs_dir: Path
) -> None:
    """Until every process polls `task_queue` for activities; a process that
    exits first fails the test with the workers' logs."""

    async def all_polling() -> bool:
        for process in processes:
            assert process.poll() is None, f"a worker exited early\n{logs(logs_dir)}"
        return len(await pollers(client, task_queue)) >= len(processes)

    await eventually(
        all_polling, what=f"{len(processes)} workers polling {task_queue}", within=STARTUP_WAIT
    )


def worker_pid(identity: str) -> str:
    """The PID in a worker identity (`<pid>@<host>`, the SDK's default)."""
    return identity.split("@", 1)[0]


def logs(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
        for path in sorted(tmp_path.glob("worker-*.log"))
    )
