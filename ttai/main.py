"""`make run`: the whole assistant on one machine.

Starts the local stack (PostgreSQL and the Temporal dev server with its Web
UI, unless DATABASE_URL / TEMPORAL_ADDRESS point elsewhere), the worker, the
monitors and report schedules, runs a demo analysis, prints where to look,
and on Ctrl-C or SIGTERM drains the worker and stops everything (exit 0).
Everything persists under the state folder, so the next run carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich.console import Console

from ttai import telemetry
from ttai.bootstrap import bootstrap
from ttai.cli.analysis import analysis_table
from ttai.codec import EncryptionConfigError, codec_from_env
from ttai.codec_server import codec_endpoint, start_codec_server
from ttai.config import Settings
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.services import open_services
from ttai.stack import StackError
from ttai.stack.files import ensure_state_dir
from ttai.stack.postgres import local_database
from ttai.stack.temporal_server import TemporalDevServer
from ttai.temporal_client import connect
from worker import build_worker

logger = logging.getLogger("ttai.main")
console = Console()

DEMO_SYMBOL = "AAPL"
T = TypeVar("T")


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


async def run(settings: Settings, stop: asyncio.Event) -> None:
    ensure_state_dir(settings.state_dir)  # 0700: histories and passwords live there
    async with contextlib.AsyncExitStack() as stack:
        # Servers start in a second or two; a stop meanwhile is handled after.
        dsn = await stack.enter_async_context(local_database(settings))
        ui_codec = None
        if codec_from_env() is not None:
            try:
                runner = await start_codec_server(settings)
            except RuntimeError as err:  # taken port, missing or short token
                raise StackError(str(err)) from None
            stack.push_async_callback(runner.cleanup)
            ui_codec = codec_endpoint(settings)
        ui_url = None
        if not settings.use_remote_temporal:
            server = TemporalDevServer.from_settings(settings, ui_codec_endpoint=ui_codec)
            await stack.enter_async_context(server)
            ui_url = server.ui_url
        client = await connect(settings, runtime=telemetry.worker_runtime(settings))
        services = await stack.enter_async_context(open_services(settings, dsn))
        async with build_worker(client, services, settings.task_queue):
            await _unless_stopped(stop, bootstrap(client, settings))
            console.print(f"[bold]Temporal Web UI:[/bold] {ui_url or 'your cluster UI'}")
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
            console.print(
                "running: monitors, report schedules, worker on task queue "
                f"'{settings.task_queue}'. Try `.venv/bin/python starter.py --help`. "
                "Ctrl-C stops everything."
            )
            await stop.wait()
            console.print("stopping: draining the worker ...")
    console.print("stopped cleanly")


async def main() -> int:
    telemetry.configure_logging()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(Settings.from_env(), stop)
    except Stopped:
        console.print("stopped during start-up")
    except (StackError, EncryptionConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
