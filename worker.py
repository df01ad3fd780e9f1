"""The TTAI worker: hosts every workflow and activity on one task queue.

    python worker.py                # one worker, per TEMPORAL_* / TTAI_* / DATABASE_URL
    python worker.py --bootstrap    # ... that also starts the monitors and schedules
    python worker.py --local        # the main job (`make run`), see below

SIGTERM or SIGINT drains it: no new tasks are polled, running activities get
`graceful_shutdown_timeout` to finish, and whatever is left resumes on the
next worker because Temporal holds the state.

The main job (`--local`) is the whole assistant on one machine: the local
stack (PostgreSQL and the Temporal dev server with its Web UI, unless
DATABASE_URL / TEMPORAL_ADDRESS point elsewhere; see `ttai.stack.local`), this
worker, the monitors and report schedules, a demo analysis, and where to look.
Ctrl-C or SIGTERM drains the worker and stops everything (exit 0). Everything
persists under the state folder, so the next run carries on.

`--local --no-demo --ready-fd N` is the same job without the demo, for a
supervising process (mcp_server.py's embedded stack): once the stack, the
worker, the monitors and the schedules are up it writes one JSON line to
descriptor N, `{"ready": true, "ui_url": ...}`, or `{"error": "..."}` when the
start failed, and closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pydantic
from rich.console import Console
from temporalio.client import Client
from temporalio.worker import Worker

from activities import build_activities
from ttai import telemetry
from ttai.broker import BrokerError
from ttai.cli.analysis import analysis_table
from ttai.config import Settings
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.services import Services, open_services
from ttai.stack import StackError
from ttai.stack.local import local_stack
from ttai.temporal.bootstrap import bootstrap
from ttai.temporal.client import connect
from ttai.temporal.codec import EncryptionConfigError
from workflows.registry import ALL_WORKFLOWS

logger = logging.getLogger("ttai.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=20)
DEMO_SYMBOL = "AAPL"
T = TypeVar("T")


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


def stop_on_signals() -> asyncio.Event:
    """An event SIGTERM or SIGINT sets."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_until_signalled(worker: Worker) -> None:
    """Run until SIGTERM/SIGINT, then drain."""
    stop = stop_on_signals()
    async with worker:
        logger.info("worker polling task queue %s", worker.task_queue)
        await stop.wait()
        logger.info("draining: no new tasks, running activities may finish")
    logger.info("worker stopped")


async def run_worker(settings: Settings, *, with_bootstrap: bool) -> int:
    """One worker against the configured cluster and DATABASE_URL."""
    assert settings.database_url
    try:
        client = await connect(settings, runtime=telemetry.worker_runtime(settings))
        async with open_services(settings, settings.database_url) as services:
            worker = build_worker(client, services, settings.task_queue)
            if with_bootstrap:
                await bootstrap(client, settings)
            await run_until_signalled(worker)
    except (RuntimeError, OSError, BrokerError, EncryptionConfigError) as err:
        # Unreachable server, taken port, bad credentials: one line, not a traceback.
        logger.error("worker cannot start: %s", err)
        return 2
    return 0


# --- the main job (`--local`) -------------------------------------------------------------

console = Console()


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived."""


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, abandoning it if a stop arrives first."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise Stopped
    return task.result()


class ReadyPipe:
    """`--ready-fd`: tells a supervising process, once, that the job is up or why it is not."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def send(self, **message: object) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # the supervisor may be gone already
            os.write(fd, json.dumps(message).encode() + b"\n")
        with contextlib.suppress(OSError):
            os.close(fd)


async def main_job(
    settings: Settings, stop: asyncio.Event, *, demo: bool = True, ready: ReadyPipe | None = None
) -> None:
    # Servers start in a second or two; a stop meanwhile is handled after.
    async with local_stack(settings) as stack:
        client = await connect(settings, runtime=telemetry.worker_runtime(settings))
        async with (
            open_services(settings, stack.database_url) as services,
            build_worker(client, services, settings.task_queue),
        ):
            await _unless_stopped(stop, bootstrap(client, settings))
            console.print(f"[bold]Temporal Web UI:[/bold] {stack.ui_url or 'your cluster UI'}")
            if ready is not None:
                ready.send(ready=True, ui_url=stack.ui_url)
            if demo:
                await _demo(settings, client, stack.ui_url, stop)
            console.print(
                "running: monitors, report schedules, worker on task queue "
                f"'{settings.task_queue}'. Try `.venv/bin/python starter.py --help`. "
                "Ctrl-C stops everything."
            )
            await stop.wait()
            console.print("stopping: draining the worker ...")
    console.print("stopped cleanly")


async def _demo(
    settings: Settings, client: Client, ui_url: str | None, stop: asyncio.Event
) -> None:
    """One analysis of DEMO_SYMBOL, its table, and where to see it."""
    handle = await client.start_workflow(
        "AnalysisWorkflow",
        AnalysisInput(symbol=DEMO_SYMBOL),
        id=f"demo-analysis-{DEMO_SYMBOL}-{datetime.now(UTC):%Y%m%d-%H%M%S}",
        task_queue=settings.task_queue,
        result_type=AnalysisResult,
    )
    console.print(f"demo analysis started: {handle.id}")
    result = await _unless_stopped(stop, handle.result())
    console.print(analysis_table(result))
    if ui_url:
        where = f"{ui_url}/namespaces/{settings.namespace}/workflows/{handle.id}"
        console.print(f"see it at {where}")


async def run_main_job(
    settings: Settings, *, demo: bool = True, ready_fd: int | None = None
) -> int:
    stop = stop_on_signals()
    ready = ReadyPipe(ready_fd)
    try:
        await main_job(settings, stop, demo=demo, ready=ready)
    except Stopped:
        ready.send(error="stopped during start-up")
        console.print("stopped during start-up")
    except (StackError, EncryptionConfigError) as err:
        ready.send(error=str(err))
        logger.error("cannot start the main job: %s", err)  # through the redacting formatter
        return 2
    finally:
        ready.send(error="the main job ended during start-up")  # no-op once sent
    return 0


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task-queue", help="default: TTAI_TASK_QUEUE or 'ttai'")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--bootstrap",
        action="store_true",
        help="also start the monitors and apply the report schedules (idempotent)",
    )
    mode.add_argument(
        "--local",
        action="store_true",
        help="the main job (make run): local stack, this worker, bootstrap, a demo analysis",
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="with --local: skip the demo analysis"
    )
    parser.add_argument(
        "--ready-fd",
        type=int,
        metavar="FD",
        help="with --local: write one JSON line to this descriptor when up (or failed)",
    )
    args = parser.parse_args(argv)
    if (args.no_demo or args.ready_fd is not None) and not args.local:
        parser.error("--no-demo and --ready-fd go with --local")
    telemetry.configure_logging()
    settings = Settings.from_env()
    if args.task_queue:
        settings = settings.model_copy(update={"task_queue": args.task_queue})
    if args.local:
        return await run_main_job(settings, demo=not args.no_demo, ready_fd=args.ready_fd)
    if not settings.database_url:
        parser.error("DATABASE_URL is not set (--local starts a local stack, as make run does)")
    return await run_worker(settings, with_bootstrap=args.bootstrap)


if __name__ == "__main__":
    telemetry.run_main(lambda: asyncio.run(main()))
