"""The TTAI worker: hosts every workflow and activity.

    python worker.py                # one worker, per TEMPORAL_* / TTAI_* / DATABASE_URL
    python worker.py --bootstrap    # ... that also starts the monitors and schedules
    python worker.py --local        # the main job (`make run`), see below

It polls the main task queue (workflows, saves, notifications) and the broker
lanes (broker reads, under the deployment's rate budget: ttai/temporal/lanes.py,
TTAI_BROKER_RATE, TTAI_BROKER_LIVE_RATE; and the price monitor's quote stream,
on a lane of its own with no budget).

SIGTERM or SIGINT drains it: no new tasks are polled, running activities get
`graceful_shutdown_timeout` to finish, and whatever is left resumes on the
next worker because Temporal holds the state.

The main job (`--local`) is the whole assistant on one machine: the local
stack (PostgreSQL and the Temporal dev server with its Web UI, unless
DATABASE_URL / TEMPORAL_ADDRESS point elsewhere; see `ttai.servers.local`), this
worker, the monitors and report schedules, a demo analysis, and where to look
(`ttai.main_job`). Ctrl-C or SIGTERM drains the worker and stops
everything (exit 0). Everything persists under the state folder, so the next
run carries on.

`--local --no-demo --ready-fd N` is the same job without the demo, for a
supervising process (mcp_server.py's embedded stack): once the stack, the
worker, the monitors and the schedules are up it writes one JSON line to
descriptor N, `{"ready": true, "ui_url": ...}`, or `{"error": "..."}` when the
start failed, and closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from types import TracebackType
from typing import Any

import pydantic
from temporalio.client import Client
from temporalio.worker import Worker

from activities import build_activities
from ttai.broker.base import BrokerError
from ttai.config import Settings
from ttai.main_job import run_main_job, stop_on_signals
from ttai.services import Services, open_services
from ttai.telemetry.logs import configure_logging, run_main
from ttai.telemetry.metrics import worker_runtime
from ttai.temporal.bootstrap import bootstrap
from ttai.temporal.client import connect
from ttai.temporal.codec import EncryptionConfigError
from ttai.temporal.lanes import (
    BULK,
    LANES,
    LIVE,
    RATED_LANES,
    STREAM,
    STREAM_SLOTS,
    Lane,
    lane_queue,
    lane_rate,
)
from ttai.temporal.steps import declared
from workflows.registry import ALL_WORKFLOWS

logger = logging.getLogger("ttai.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=20)
STREAM_HEARTBEAT_THROTTLE = timedelta(seconds=1)
"""How often a stream's heartbeats reach the server at most: its details (the last
prices a successor resumes from) and a cancel request go no staler than this."""


# Worker options that concern activities, passed on to the lane workers too.
_LANE_OPTIONS = frozenset(
    {"graceful_shutdown_timeout", "max_concurrent_activities", "identity", "interceptors"}
)


class Workers:
    """A worker process's pollers: one `Worker` for the main task queue and one
    per broker lane. Used like a `Worker`: `async with`, or `run()` / `shutdown()`."""

    def __init__(
        self,
        main: Worker,
        lanes: Mapping[Lane, Worker],
        rates: Mapping[Lane, float | None] | None = None,
    ) -> None:
        self.main = main
        self.lanes = dict(lanes)
        self.rates = {lane: (rates or {}).get(lane) for lane in self.lanes}
        self._all = [main, *self.lanes.values()]
        self._stack: AsyncExitStack | None = None

    @property
    def task_queue(self) -> str:
        return self.main.task_queue

    async def run(self) -> None:
        """Until `shutdown()`; one poller failing stops the others."""
        runs = [asyncio.ensure_future(worker.run()) for worker in self._all]
        try:
            await asyncio.gather(*runs)
        except BaseException:
            await self.shutdown()
            await asyncio.gather(*runs, return_exceptions=True)
            raise

    async def shutdown(self) -> None:
        await asyncio.gather(*(worker.shutdown() for worker in self._all if worker.is_running))

    async def __aenter__(self) -> Workers:
        async with AsyncExitStack() as stack:
            for worker in self._all:
                await stack.enter_async_context(worker)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stack is not None
        stack, self._stack = self._stack, None
        await stack.__aexit__(exc_type, exc, tb)


def build_worker(
    client: Client,
    services: Services | None,
    task_queue: str,
    *,
    activities: Sequence[Callable[..., Any]] | None = None,
    workflows: Sequence[type] | None = None,
    lane_rates: Mapping[Lane, float | None] | None = None,
    **overrides: Any,
) -> Workers:
    """The worker for `services`; tests may pass fake `activities` (and a subset of
    `workflows`) instead and override any `Worker` option (e.g.
    `graceful_shutdown_timeout`).

    Broker-read activities run on their lanes, each with its rate limit:
    `lane_rates` when given (None: no limit), else from the settings and the
    broker (tastytrade has conservative defaults, the simulated market none).
    """
    if lane_rates is None:
        lane_rates = {}
        if services is not None:
            configured = {
                BULK: services.settings.broker_rate,
                LIVE: services.settings.broker_live_rate,
            }
            lane_rates = {
                lane: lane_rate(lane, services.broker.name, configured[lane])
                for lane in RATED_LANES
            }
    if activities is None:
        if services is None:
            raise ValueError("build_worker needs services or activities")
        activities = build_activities(services, bulk_budget=lane_rates.get(BULK) is not None)
    options: dict[str, Any] = {
        # Bad input that slips past the client (raw JSON from another app)
        # fails the workflow at once instead of retrying its task forever.
        "workflow_failure_exception_types": [pydantic.ValidationError],
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
        "max_concurrent_activities": 100,
        "max_concurrent_workflow_tasks": 100,
        "max_concurrent_local_activities": 100,
    }
    options |= overrides
    # The main queue hosts every activity: a broker read scheduled there before
    # the lanes existed still runs. The workflows send them to the lanes now.
    main = Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows if workflows is not None else ALL_WORKFLOWS),
        activities=activities,
        **options,
    )
    lane_options = {key: value for key, value in options.items() if key in _LANE_OPTIONS}
    # The stream lane: a few slots of its own, heartbeats sent promptly.
    stream_options = lane_options | {
        "max_concurrent_activities": STREAM_SLOTS,
        "max_heartbeat_throttle_interval": STREAM_HEARTBEAT_THROTTLE,
    }
    lanes: dict[Lane, Worker] = {}
    for lane in LANES:
        on_lane = [fn for fn in activities if declared(fn).lane == lane]
        if on_lane:
            lanes[lane] = Worker(
                client,
                task_queue=lane_queue(task_queue, lane),
                activities=on_lane,
                max_task_queue_activities_per_second=lane_rates.get(lane),
                **(stream_options if lane == STREAM else lane_options),
            )
    return Workers(main, lanes, lane_rates)


async def run_until_signalled(worker: Workers) -> None:
    """Run until SIGTERM/SIGINT, then drain."""
    stop = stop_on_signals()
    async with worker:
        lanes = ", ".join(
            f"{w.task_queue} ({f'{rate:g}/s' if rate else 'no limit'})"
            for w, rate in ((worker.lanes[lane], worker.rates[lane]) for lane in worker.lanes)
        )
        logger.info("worker polling task queue %s; broker lanes: %s", worker.task_queue, lanes)
        await stop.wait()
        logger.info("draining: no new tasks, running activities may finish")
    logger.info("worker stopped")


async def run_worker(settings: Settings, *, with_bootstrap: bool) -> int:
    """One worker against the configured cluster and DATABASE_URL."""
    assert settings.database_url
    try:
        client = await connect(settings, runtime=worker_runtime(settings))
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
    configure_logging()
    try:
        settings = Settings.from_env()
    except ValueError as err:
        parser.error(str(err))
    if args.task_queue:
        settings = settings.model_copy(update={"task_queue": args.task_queue})
    if args.local:
        return await run_main_job(
            settings, build_worker, demo=not args.no_demo, ready_fd=args.ready_fd
        )
    if not settings.database_url:
        parser.error("DATABASE_URL is not set (--local starts a local stack, as make run does)")
    return await run_worker(settings, with_bootstrap=args.bootstrap)


if __name__ == "__main__":
    run_main(lambda: asyncio.run(main()))
