"""Monitor cost benchmark: idle worker CPU and RSS, history per run, alert latency,
polling and streaming.

    .venv/bin/python bench/monitors.py                 # 90 s, intervals 5 / 10 / 30 s
    .venv/bin/python bench/monitors.py --seconds 300 --max-iterations 50
    .venv/bin/python bench/monitors.py --only streaming

Starts its own stack on free ports in a temporary folder: a private PostgreSQL
and a Temporal dev server persisted in SQLite (as `make run`), plus one worker
in this process with the real activities over the simulated market (seeded
paper portfolio). The portfolio, price-alert and position-sync monitors run
with short intervals and market hours "always" for a fixed period, with a small
iteration cap so they continue-as-new several times; the outbox monitor runs
with its defaults. Measured:

1. worker CPU (% of one core) and RSS over the steady period, checks included
   (an upper bound for "idle between checks"), and the dev server's CPU;
2. history events of every completed run before its continue-as-new, and per check;
3. price crossing -> committed notification: AAPL's quote is stepped across an
   alert level at a known moment; the commit is seen through LISTEN on the
   outbox's NOTIFY channel. Target: at most the interval + 1 s.

Then the streaming case, on the same stack: a worker over a simulated market
that runs from a past session's morning (so its prices move whenever the bench
runs), ticking once a second per symbol, and the monitors at their default
intervals and all hours, with `mcp_server.py` (a process of its own, connecting
only) and a client subscribed to `ttai://alerts`, as a host is:

4. idle: the worker's CPU with no rules for `--idle-seconds` (the price
   monitor streams nothing). Target: at most 1 % of a core.
5. 50 symbols with rules: each gets a rule that never fires (it keeps the symbol
   streamed) and a crossing rule at a level its path first crosses, known ahead
   from the deterministic market, at staggered moments. Measured from each
   crossing tick's time (on the market's clock, which is the machine's monotonic
   clock shifted): to its committed notification (LISTEN on the outbox's channel,
   in this process) and to the resource-updated message the MCP client gets; and
   the worker's CPU and RSS meanwhile. Targets: p95 at most 1000 ms and 1200 ms,
   CPU at most 3 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

# This folder holds bench/mcp.py: on sys.path it would shadow the `mcp` package.
if str(Path(__file__).resolve().parent) in sys.path:
    sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench._stack import bench_stack
from bench.streaming import streaming_case
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.config import Settings
from ttai.db.alerts import AlertStore
from ttai.models.alerts import AddAlertInput, AlertRuleSpec
from ttai.models.market import Quote
from ttai.models.monitors import MONITOR_TYPES, MonitorInput
from ttai.notify.outbox import NOTIFY_CHANNEL
from ttai.services import open_services
from ttai.temporal.bootstrap import ensure_monitors
from worker import build_worker

ALERT_SYMBOL = "AAPL"
LEVEL = 110.0


class SteppedBroker(SimulatedBroker):
    """The simulated market, with AAPL's price set by the benchmark (to cross a level).
    It does not stream (`QuoteStreaming` sees no method), so the price monitor polls."""

    price: float = LEVEL - 10
    stream_quotes = None  # type: ignore[assignment]

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        quotes = await super().get_quotes(symbols)
        if ALERT_SYMBOL in quotes:
            p = self.price
            quotes[ALERT_SYMBOL] = quotes[ALERT_SYMBOL].model_copy(
                update={"bid": p, "ask": p, "last": p}
            )
        return quotes


def dev_server_process() -> psutil.Process | None:
    for child in psutil.Process().children(recursive=True):
        if "temporal" in child.name():
            return child
    return None


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def run_histories(client: Client, workflow_id: str) -> tuple[list[int], int, int]:
    """Event counts of completed runs (each ended by continue-as-new), the current
    run's count, and the checks made over all runs."""
    handle = client.get_workflow_handle(workflow_id)
    run_id: str | None = (
        await handle.describe()
    ).raw_description.workflow_execution_info.first_run_id
    completed, current = [], 0
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            completed.append(len(history.events))
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        else:
            current, run_id = len(history.events), None
    status = await handle.query("status")
    return completed, current, status["state"]["iterations"]


async def measure_latency(
    broker: SteppedBroker, price: Any, dsn: str, interval: float, crossings: int
) -> list[float]:
    """Step AAPL across the level `crossings` times; seconds to each committed alert.

    Each crossing gets a rule of its own (a rearmed rule waits at least 5 minutes)."""
    rule = AlertRuleSpec(symbol=ALERT_SYMBOL, condition="crosses_up", threshold=LEVEL)
    committed: asyncio.Queue[float] = asyncio.Queue()

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if json.loads(payload)["kind"] == "alert":
            committed.put_nowait(time.monotonic())

    conn = await asyncpg.connect(dsn)
    await conn.add_listener(NOTIFY_CHANNEL, on_notify)
    latencies = []
    try:
        for _ in range(crossings):
            broker.price = LEVEL - 10
            await price.execute_update("add_alert", AddAlertInput(rule=rule))
            await asyncio.sleep(interval * 2.5)  # the monitor sees it below the level
            broker.price = LEVEL + 1
            crossed = time.monotonic()
            latencies.append(await asyncio.wait_for(committed.get(), interval * 4) - crossed)
    finally:
        await conn.close()
    return latencies


async def polling_case(client: Client, dsn: str, args: argparse.Namespace) -> None:
    inputs = {
        "monitor-price-alerts": args.price_interval,
        "monitor-portfolio": args.portfolio_interval,
        "monitor-position-sync": args.sync_interval,
    }
    market = SimulatedMarket(seed=args.seed)
    account = InMemoryPaperAccount()
    await account.seed_if_empty(market, market.now())
    broker = SteppedBroker(market, account)
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(market_seed=args.seed, task_queue=task_queue)
    async with (
        open_services(settings, dsn, broker=broker) as services,
        build_worker(client, services, task_queue),
    ):
        baseline_rss = psutil.Process().memory_info().rss  # worker up, no monitors yet
        await ensure_monitors(
            client,
            settings,
            inputs={
                workflow_id: MonitorInput(
                    hours="always",
                    interval_seconds=seconds,
                    max_iterations_per_run=args.max_iterations,
                )
                for workflow_id, seconds in inputs.items()
            },
        )
        price = client.get_workflow_handle("monitor-price-alerts")
        # A rule every check evaluates during the steady period (it never fires there).
        steady = AlertRuleSpec(symbol=ALERT_SYMBOL, condition="price_above", threshold=LEVEL)
        await price.execute_update("add_alert", AddAlertInput(rule=steady))
        await asyncio.sleep(args.sync_interval + 2)  # warm: every monitor checked

        me, temporal = psutil.Process(), dev_server_process()
        cpu0, server0, wall0 = (
            cpu_seconds(me),
            temporal and cpu_seconds(temporal),
            time.monotonic(),
        )
        rss = [me.memory_info().rss]
        end = wall0 + args.seconds
        while time.monotonic() < end:
            await asyncio.sleep(1)
            rss.append(me.memory_info().rss)
        wall = time.monotonic() - wall0
        worker_cpu = (cpu_seconds(me) - cpu0) / wall * 100
        server_cpu = (cpu_seconds(temporal) - server0) / wall * 100 if temporal else float("nan")

        latencies = await measure_latency(broker, price, dsn, args.price_interval, args.crossings)
        histories = {wid: await run_histories(client, wid) for wid in MONITOR_TYPES}
        for workflow_id in MONITOR_TYPES:
            await client.get_workflow_handle(workflow_id).cancel()
        store = AlertStore(services.pool)
        for rule in await store.rules():  # the streaming case starts with none
            await store.remove(rule.alert_id)

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; steady period {wall:.0f} s; intervals "
        f"price {args.price_interval} s, portfolio {args.portfolio_interval} s, "
        f"sync {args.sync_interval} s; continue-as-new every {args.max_iterations} checks"
    )
    print(
        f"worker: CPU {worker_cpu:.2f} % of a core (checks included), RSS max "
        f"{max(rss) / 2**20:.0f} MiB ({baseline_rss / 2**20:.0f} MiB before the monitors "
        f"started); dev server CPU {server_cpu:.2f} %"
    )
    for workflow_id, (completed, current, checks) in histories.items():
        per_check = (sum(completed) + current) / max(checks, 1)
        runs = ", ".join(map(str, completed)) or "none"
        print(
            f"{MONITOR_TYPES[workflow_id]}: {checks} checks, {per_check:.1f} events/check; "
            f"completed runs (events before continue-as-new): {runs}; current run {current}"
        )
    print(
        f"price crossing -> committed notification ({len(latencies)} crossings): "
        f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
        f"(target <= interval + 1 s = {args.price_interval + 1} s)"
    )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["polling", "streaming"], help="one case only")
    parser.add_argument("--seconds", type=float, default=90, help="steady period measured")
    parser.add_argument("--price-interval", type=int, default=5)
    parser.add_argument("--portfolio-interval", type=int, default=10)
    parser.add_argument("--sync-interval", type=int, default=30)
    parser.add_argument("--max-iterations", type=int, default=10, help="checks per run")
    parser.add_argument("--crossings", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7, help="simulated market seed")
    parser.add_argument("--idle-seconds", type=float, default=60, help="streaming: idle period")
    parser.add_argument("--symbols", type=int, default=50, help="streaming: symbols with rules")
    parser.add_argument(
        "--spacing", type=float, default=1.5, help="streaming: seconds between crossings"
    )
    args = parser.parse_args(argv)

    async with bench_stack() as (dsn, client):
        if args.only != "streaming":
            await polling_case(client, dsn, args)
        if args.only != "polling":
            await streaming_case(client, dsn, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
