"""Screen benchmark: the seed's in-process asyncio design against ScreenerWorkflow.

    .venv/bin/python bench/screener.py      # 100 and 500 symbols, 5 and 50 at once
    .venv/bin/python bench/screener.py --sizes 100 --max-concurrent 20

Starts its own stack on free ports in a temporary folder: a private PostgreSQL
(durable, as `make run`) and a Temporal dev server persisted in SQLite with the
WAL pragmas (as `make run`), plus one worker in this process. Both sides run
the same per-symbol code (the analysis activities over the simulated market,
saves included); only the orchestration differs:

1. in-process: plain asyncio, a semaphore of max_concurrent and gather (the
   seed's ScreenerWorkflow.run_screener), no durability;
2. ScreenerWorkflow: one child AnalysisWorkflow per symbol, the same bound.

Prints wall times, symbols per second, the ratio, and the durable overhead per
symbol (Temporal time minus in-process time, divided by the symbols).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client

from activities.analysis import AnalysisActivities
from bench._stack import bench_stack
from ttai.broker.paper_account import InMemoryPaperAccount
from ttai.broker.simulated import SimulatedBroker, SimulatedMarket
from ttai.config import Settings
from ttai.db.analyses import AnalysisStore
from ttai.models.analysis import (
    AnalysisResult,
    OptionsRequest,
    ResearchRequest,
    SymbolRequest,
    Synthesis,
    SynthesisRequest,
)
from ttai.models.screener import ScreenInput, ScreenResult
from ttai.services import Services, open_services
from worker import build_worker


@dataclass(frozen=True)
class Timing:
    max_concurrent: int
    symbols: int
    in_process: float
    temporal: float
    worker_cpu: float = 0.0  # this process (worker + client) during the Temporal run
    server_cpu: float = 0.0  # the dev server process during the Temporal run

    def row(self) -> str:
        n = self.symbols
        overhead_ms = (self.temporal - self.in_process) / n * 1000
        return (
            f"{self.max_concurrent:>10} | {n:>7}"
            f" | {self.in_process:>8.2f} s {n / self.in_process:>7.1f}/s"
            f" | {self.temporal:>8.2f} s {n / self.temporal:>7.1f}/s"
            f" | {self.temporal / self.in_process:>5.1f}x | {overhead_ms:>7.1f} ms"
            f" | {self.worker_cpu / n * 1000:>6.1f} / {self.server_cpu / n * 1000:>6.1f} ms"
        )


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def dev_server_process() -> psutil.Process:
    """The `temporal server start-dev` child of this process."""
    for child in psutil.Process().children(recursive=True):
        if child.name() == "temporal":
            return child
    raise RuntimeError("no temporal dev server among this process's children")


async def analyse_in_process(
    activities: AnalysisActivities, store: AnalysisStore, symbol: str, screen_id: str
) -> str:
    """AnalysisWorkflow's steps as plain calls (same activity code, same saves)."""
    chart = await activities.chart_analysis(SymbolRequest(symbol=symbol))
    options = research = None
    if chart.recommendation == "reject":
        synthesis = Synthesis(score=0, recommendation="reject")
    else:
        options = await activities.options_analysis(OptionsRequest(symbol=symbol, chart=chart))
        research = await activities.research_analysis(
            ResearchRequest(
                symbol=symbol, expiration=options.best.expiration if options.best else None
            )
        )
        synthesis = await activities.synthesize(
            SynthesisRequest(chart=chart, options=options, research=research)
        )
    result = AnalysisResult(
        symbol=symbol,
        strategy="csp",
        recommendation=synthesis.recommendation,
        score=synthesis.score,
        chart=chart,
        options=options,
        research=research,
        completed_at=datetime.now(UTC),
    )
    await store.save(f"{screen_id}/{symbol}", "in-process", result, screen_id)
    return result.recommendation


async def screen_in_process(services: Services, symbols: list[str], max_concurrent: int) -> float:
    store = AnalysisStore(services.pool)
    activities = AnalysisActivities(services.broker, store, services.outbox)
    slots = asyncio.Semaphore(max_concurrent)
    screen_id = f"bench-inproc-{uuid.uuid4().hex[:8]}"

    async def one(symbol: str) -> str | None:
        async with slots:
            try:
                return await analyse_in_process(activities, store, symbol, screen_id)
            except Exception:  # the seed logged and skipped failures
                return None

    start = time.perf_counter()
    await asyncio.gather(*(one(s) for s in symbols))
    return time.perf_counter() - start


async def screen_temporal(
    client: Client, task_queue: str, symbols: list[str], max_concurrent: int
) -> tuple[float, ScreenResult]:
    start = time.perf_counter()
    result = await client.execute_workflow(
        "ScreenerWorkflow",
        ScreenInput(symbols=symbols, max_concurrent=max_concurrent),
        id=f"bench-screen-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ScreenResult,
    )
    return time.perf_counter() - start, result


async def compare(
    services: Services,
    market: SimulatedMarket,
    client: Client,
    task_queue: str,
    bound: int,
    size: int,
) -> Timing:
    symbols = market.symbols[:size]
    in_process = await screen_in_process(services, symbols, bound)
    me, server = psutil.Process(), dev_server_process()
    worker_before, server_before = cpu_seconds(me), cpu_seconds(server)
    temporal, result = await screen_temporal(client, task_queue, symbols, bound)
    worker_cpu, server_cpu = cpu_seconds(me) - worker_before, cpu_seconds(server) - server_before
    if result.analysed + result.failed != size:
        raise SystemExit(f"screen of {size} finished only {result.analysed + result.failed}")
    return Timing(bound, size, in_process, temporal, worker_cpu, server_cpu)


def _config_value(item: str) -> tuple[str, object]:
    key, _, value = item.partition("=")
    return key, json.loads(value)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--max-concurrent", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--seed", type=int, default=7, help="simulated market seed")
    parser.add_argument(
        "--server-config",
        nargs="*",
        default=[],
        metavar="KEY=JSON",
        help="extra dev server dynamic config values",
    )
    args = parser.parse_args(argv)

    async with bench_stack(dict(_config_value(item) for item in args.server_config)) as (
        dsn,
        client,
    ):
        market = SimulatedMarket(seed=args.seed)
        broker = SimulatedBroker(market, InMemoryPaperAccount())
        settings = Settings(market_seed=args.seed)
        async with open_services(settings, dsn, broker=broker) as services:
            task_queue = f"bench-{uuid.uuid4().hex[:8]}"
            timings: list[Timing] = []
            async with build_worker(client, services, task_queue):
                # Warm both paths (imports, caches of the simulated market).
                warm = market.symbols[:10]
                await screen_in_process(services, warm, 5)
                await screen_temporal(client, task_queue, warm, 5)
                for bound in args.max_concurrent:
                    for size in args.sizes:
                        timings.append(
                            await compare(services, market, client, task_queue, bound, size)
                        )
    print(
        f"simulated market seed {args.seed}; overhead = (Temporal - in-process) / symbols; "
        "CPU per symbol during the Temporal run: worker process / dev server"
    )
    print(
        "concurrent | symbols |   in-process (asyncio)  |   ScreenerWorkflow      "
        "| ratio | overhead/symbol | CPU/symbol worker / server"
    )
    for timing in timings:
        print(timing.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
