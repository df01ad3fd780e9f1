"""The TTAI worker: hosts every workflow and activity on one task queue.

    python worker.py            # connects per TEMPORAL_* / TTAI_* settings

SIGTERM or SIGINT drains it: no new tasks are polled, running activities get
`graceful_shutdown_timeout` to finish, and whatever is left resumes on the
next worker because Temporal holds the state.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pydantic
from temporalio.client import Client
from temporalio.worker import Worker

from activities import build_activities
from ttai import telemetry
from ttai.bootstrap import bootstrap
from ttai.broker import BrokerError
from ttai.codec import EncryptionConfigError
from ttai.config import Settings
from ttai.services import Services, open_services
from ttai.temporal_client import connect
from workflows.registry import ALL_WORKFLOWS

logger = logging.getLogger("ttai.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=20)


def build_worker(
    client: Client,
    services: Services | None,
    task_queue: str,
    *,
    activities: Sequence[Callable[..., Any]] | None = None,
    **overrides: Any,
) -> Worker:
    """The worker for `services`; tests may pass fake `activities` instead and
    override any `Worker` option (e.g. `graceful_shutdown_timeout`)."""
    if activities is None:
        if services is None:
            raise ValueError("build_worker needs services or activities")
        activities = build_activities(services)
    options: dict[str, Any] = {
        # Bad input that slips past the client (raw JSON from another app)
        # fails the workflow at once instead of retrying its task forever.
        "workflow_failure_exception_types": [pydantic.ValidationError],
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
        "max_concurrent_activities": 100,
        "max_concurrent_workflow_tasks": 100,
        "max_concurrent_local_activities": 100,
    }
    return Worker(
        client,
        task_queue=task_queue,
        workflows=ALL_WORKFLOWS,
        activities=activities,
        **(options | overrides),
    )


async def run_until_signalled(worker: Worker) -> None:
    """Run until SIGTERM/SIGINT, then drain."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logger.info("worker polling task queue %s", worker.task_queue)
        await stop.wait()
        logger.info("draining: no new tasks, running activities may finish")
    logger.info("worker stopped")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task-queue", help="default: TTAI_TASK_QUEUE or 'ttai'")
    parser.add_argument(
        "--bootstrap",
        action="store_true",
        help="also start the monitors and apply the report schedules (idempotent)",
    )
    args = parser.parse_args(argv)
    telemetry.configure_logging()
    settings = Settings.from_env()
    if args.task_queue:
        settings = settings.model_copy(update={"task_queue": args.task_queue})
    if not settings.database_url:
        parser.error("DATABASE_URL is not set (make run starts a local stack and sets it)")
    try:
        client = await connect(settings, runtime=telemetry.worker_runtime(settings))
        async with open_services(settings, settings.database_url) as services:
            worker = build_worker(client, services, settings.task_queue)
            if args.bootstrap:
                await bootstrap(client, settings)
            await run_until_signalled(worker)
    except (RuntimeError, OSError, BrokerError, EncryptionConfigError) as err:
        # Unreachable server, taken port, bad credentials: one line, not a traceback.
        logger.error("worker cannot start: %s", err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
