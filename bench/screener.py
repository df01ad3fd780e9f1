"""Screen benchmark: the seed's in-process asyncio design against ScreenerWorkflow.

    .venv/bin/python bench/screener.py      # 500 symbols, 50 and 5 at once
    .venv/bin/python bench/screener.py --sizes 100 500 --max-concurrent 20

Starts its own stack on free ports in a temporary folder: a private PostgreSQL
(durable, as `make run`) and a Temporal dev server persisted in SQLite with the
WAL pragmas (as `make run`), plus one worker in this process. Every side runs
the same per-symbol code, `AnalysisActivities.screen_symbol_once` (the whole
analysis over the simulated market, then the save); only the orchestration
differs, side by side in one run:

1. in-process: plain asyncio, a semaphore of max_concurrent and gather (the
   seed's ScreenerWorkflow.run_screener), no durability;
2. ScreenerWorkflow, the default design on a lane without a rate budget (the
   simulated market): `screen_symbols` activities taking batches of symbols;
3. ScreenerWorkflow with one `screen_symbol` activity per symbol, what a
   budgeted lane (tastytrade) runs, here without the budget (`--no-single`
   skips it);
4. ScreenerWorkflow with `per_symbol_workflows`: one child AnalysisWorkflow per
   symbol (its steps are the same step code, one activity each;
   `--no-children` skips it).

Each design runs `--repeat` times (3), interleaved with the in-process run,
and the fastest run of each counts (other processes' load only slows runs
down). Prints wall times, symbols per second, each design's ratio to the
in-process run, and CPU per symbol (this process, which hosts the worker, and
the dev server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client

from activities import build_activities
from activities.analysis import AnalysisActivities
from bench._stack import bench_stack
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.config import Settings
from ttai.db.analyses import AnalysisStore
from ttai.models.screen_steps import ScreenSymbolInput
from ttai.models.screener import ScreenInput, ScreenResult
from ttai.services import Services, open_services
from worker import build_worker


@dataclass(frozen=True)
class Run:
    seconds: float
    worker_cpu: float = 0.0  # this process (worker + client)
    server_cpu: float = 0.0  # the dev server process


DESIGNS = {
    "batches": "ScreenerWorkflow (default)",
    "single": "one activity per symbol",
    "children": "one child per symbol",
}


@dataclass(frozen=True)
class Timing:
    max_concurrent: int
    symbols: int
    in_process: float
    runs: dict[str, Run]

    def rows(self) -> list[str]:
        n = self.symbols
        out = [
            f"{self.max_concurrent:>10} | {n:>7} | {'in-process (asyncio)':<28}"
            f" | {self.in_process:>7.2f} s {n / self.in_process:>6.1f}/s |       |"
        ]
        for design, run in self.runs.items():
            out.append(
                f"{'':>10} | {'':>7} | {DESIGNS[design]:<28}"
                f" | {run.seconds:>7.2f} s {n / run.seconds:>6.1f}/s"
                f" | {run.seconds / self.in_process:>4.2f}x"
                f" | {run.worker_cpu / n * 1000:>5.1f} / {run.server_cpu / n * 1000:>5.1f} ms"
            )
        return out

    def ratios(self) -> str:
        return ", ".join(
            f"{run.seconds / self.in_process:.2f}x ({DESIGNS[design]})"
            for design, run in self.runs.items()
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


async def screen_in_process(services: Services, symbols: list[str], max_concurrent: int) -> float:
    activities = AnalysisActivities(services.broker, AnalysisStore(services.pool), services.outbox)
    slots = asyncio.Semaphore(max_concurrent)
    screen_id = f"bench-inproc-{uuid.uuid4().hex[:8]}"

    async def one(symbol: str) -> str | None:
        async with slots:
            try:
                request = ScreenSymbolInput(
                    screen_id=screen_id, screen_run_id="in-process", symbol=symbol
                )
                return (await activities.screen_symbol_once(request)).recommendation
            except Exception:  # the seed logged and skipped failures
                return None

    start = time.perf_counter()
    await asyncio.gather(*(one(s) for s in symbols))
    return time.perf_counter() - start


async def screen_temporal(
    client: Client, task_queue: str, symbols: list[str], max_concurrent: int, children: bool
) -> tuple[Run, ScreenResult]:
    me, server = psutil.Process(), dev_server_process()
    worker_before, server_before = cpu_seconds(me), cpu_seconds(server)
    start = time.perf_counter()
    result = await client.execute_workflow(
        "ScreenerWorkflow",
        ScreenInput(symbols=symbols, max_concurrent=max_concurrent, per_symbol_workflows=children),
        id=f"bench-screen-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ScreenResult,
    )
    seconds = time.perf_counter() - start
    if result.analyzed + result.failed != len(symbols):
        raise SystemExit(
            f"screen of {len(symbols)} finished only {result.analyzed + result.failed}"
        )
    run = Run(seconds, cpu_seconds(me) - worker_before, cpu_seconds(server) - server_before)
    return run, result


async def compare(
    services: Services,
    market: SimulatedMarket,
    client: Client,
    queues: dict[str, str],
    bound: int,
    size: int,
    repeat: int,
) -> Timing:
    """Each design `repeat` times, interleaved (in-process, then each design, again
    and again), keeping each one's fastest run: load from other processes only
    ever slows a run down, so the fastest is the least disturbed. Children run
    once (they take minutes)."""
    symbols = market.symbols[:size]
    in_process: list[float] = []
    runs: dict[str, list[Run]] = {design: [] for design in queues}
    for round_ in range(repeat):
        in_process.append(await screen_in_process(services, symbols, bound))
        for design, task_queue in queues.items():
            if design == "children" and round_:
                continue
            run, _ = await screen_temporal(
                client, task_queue, symbols, bound, children=design == "children"
            )
            runs[design].append(run)
    fastest = {design: min(done, key=lambda r: r.seconds) for design, done in runs.items()}
    return Timing(bound, size, min(in_process), fastest)


def _config_value(item: str) -> tuple[str, object]:
    key, _, value = item.partition("=")
    return key, json.loads(value)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500])
    parser.add_argument("--max-concurrent", type=int, nargs="+", default=[50, 5])
    parser.add_argument(
        "--no-children", action="store_true", help="skip the per-symbol child workflow runs"
    )
    parser.add_argument(
        "--no-single", action="store_true", help="skip the one-symbol-per-activity runs"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each design (the fastest counts)"
    )
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
            main_queue, single_queue = (f"bench-{uuid.uuid4().hex[:8]}" for _ in range(2))
            queues = {"batches": main_queue}
            if not args.no_single:
                queues["single"] = single_queue
            if not args.no_children:
                queues["children"] = main_queue
            timings: list[Timing] = []
            # The second worker plans as a budgeted lane would (one symbol per
            # activity) but has no rate limit.
            single = build_activities(services, bulk_budget=True)
            async with (
                build_worker(client, services, main_queue),
                build_worker(client, services, single_queue, activities=single),
            ):
                # Warm every path (imports, caches of the simulated market).
                warm = market.symbols[:10]
                await screen_in_process(services, warm, 5)
                for design, task_queue in queues.items():
                    await screen_temporal(
                        client, task_queue, warm, 5, children=design == "children"
                    )
                for bound in args.max_concurrent:
                    for size in args.sizes:
                        timings.append(
                            await compare(
                                services, market, client, queues, bound, size, args.repeat
                            )
                        )
    print(
        f"simulated market seed {args.seed}; fastest of {args.repeat} interleaved runs "
        "(children: one); ratio = time / in-process time; CPU per symbol: worker / dev server"
    )
    print(
        f"concurrent | symbols | {'design':<28} |   time      rate    | ratio "
        "| CPU/symbol worker / server"
    )
    for timing in timings:
        for row in timing.rows():
            print(row)
    for timing in timings:
        print(
            f"ratio at max_concurrent {timing.max_concurrent}, {timing.symbols} symbols: "
            + timing.ratios()
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
