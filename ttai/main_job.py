"""The main job (`python worker.py --local`, `make run`): the local stack, a worker,
the monitors and schedules, a demo analysis, and where to look.

worker.py hands in how to build its worker (`ttai` never imports the
workflows or activities); everything else lives here: the stop on
SIGTERM/SIGINT, the demo, and `--ready-fd`, the one JSON line a supervising
process (mcp_server.py's embedded stack) waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich.console import Console
from temporalio.client import Client

from ttai.cli.analysis import analysis_table
from ttai.config import Settings
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.servers import StackError
from ttai.servers.local import local_stack
from ttai.services import Services, open_services
from ttai.telemetry.metrics import worker_runtime
from ttai.telemetry.redaction import Redactor
from ttai.temporal.bootstrap import bootstrap
from ttai.temporal.client import connect
from ttai.temporal.codec import EncryptionConfigError

logger = logging.getLogger("ttai.worker")

DEMO_SYMBOL = "AAPL"
T = TypeVar("T")

# worker.py's `build_worker(client, services, task_queue)`: the worker to run.
WorkerFactory = Callable[[Client, Services, str], AbstractAsyncContextManager[Any]]

console = Console()


def stop_on_signals() -> asyncio.Event:
    """An event SIGTERM or SIGINT sets."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived."""


async def unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, T]) -> T:
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
    """`--ready-fd`: tells a supervising process, once, that the job is up or why it is
    not. The supervisor shows the reason to its clients: it is redacted as a log line is."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def send(self, **message: object) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        redacted = Redactor().redact_value(message)
        with contextlib.suppress(OSError):  # the supervisor may be gone already
            os.write(fd, json.dumps(redacted).encode() + b"\n")
        with contextlib.suppress(OSError):
            os.close(fd)


async def main_job(
    settings: Settings,
    stop: asyncio.Event,
    build_worker: WorkerFactory,
    *,
    demo: bool = True,
    ready: ReadyPipe | None = None,
) -> None:
    # Servers start in a second or two; a stop meanwhile is handled after.
    async with local_stack(settings) as stack:
        client = await connect(settings, runtime=worker_runtime(settings))
        async with (
            open_services(settings, stack.database_url) as services,
            build_worker(client, services, settings.task_queue),
        ):
            await unless_stopped(stop, bootstrap(client, settings))
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
    result = await unless_stopped(stop, handle.result())
    console.print(analysis_table(result))
    if ui_url:
        where = f"{ui_url}/namespaces/{settings.namespace}/workflows/{handle.id}"
        # soft_wrap: the terminal wraps a long URL, so it stays one clickable line.
        console.print(f"see it at {where}", soft_wrap=True, highlight=False)


async def run_main_job(
    settings: Settings,
    build_worker: WorkerFactory,
    *,
    demo: bool = True,
    ready_fd: int | None = None,
) -> int:
    """The main job until SIGTERM/SIGINT; the process's exit code."""
    stop = stop_on_signals()
    ready = ReadyPipe(ready_fd)
    try:
        await main_job(settings, stop, build_worker, demo=demo, ready=ready)
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
