"""ScreenerWorkflow end to end: dev server, real PostgreSQL, the simulated market.

The properties every screen keeps, each tested on the default design (one
activity per symbol) and, where the design matters, on per-symbol children too:
exactly one saved analysis per symbol per screen across a worker restart, a
retry and a replay (a kill -9 of everything: tests/screener/test_scale_out.py); one
failing symbol never fails the screen; every result is saved and found by
screen and by symbol; `starter.py screen` and `watchlist` over a real worker.
Cancelling a screen: test_screener_cancel.py; history sizes: test_screener_history.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from activities.analysis import AnalysisActivities
from tests.helpers.screener_fakes import DESIGNS, FakeScreenerActivities
from tests.helpers.screens import (
    SEED,
    analyses_per_symbol,
    services,
    start_screen,
    wait_for_progress,
)
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.config import PROJECT_ROOT
from ttai.data.sp500 import sp500_symbols
from ttai.db.analyses import AnalysisStore
from ttai.domain.analytics.ranking import rank, screen_entry
from ttai.models.analysis import AnalysisResult, SaveAnalysisResult
from ttai.models.screener import ScreenInput, ScreenProgress, ScreenResult
from ttai.notify.outbox import Outbox
from ttai.temporal.client import data_converter
from worker import Workers, build_worker
from workflows.registry import ALL_WORKFLOWS
from workflows.screener import SYMBOLS_PER_RUN


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return SimulatedMarket(seed=SEED)


@asynccontextmanager
async def running(worker: Workers) -> AsyncIterator[Workers]:
    async with worker:
        yield worker


async def test_sp500_watchlist_screen(
    client: Client, db_pool: asyncpg.Pool, task_queue: str, market: SimulatedMarket
) -> None:
    sp500 = sp500_symbols()
    screen_id = f"screen-e2e-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, services(db_pool, market), task_queue):
        handle = await client.start_workflow(
            "ScreenerWorkflow",
            ScreenInput(watchlist="sp500", max_concurrent=50, top_n=15),
            id=screen_id,
            task_queue=task_queue,
            result_type=ScreenResult,
        )
        result = await handle.result()
        progress = await handle.query("progress", result_type=ScreenProgress)
        history = await handle.fetch_history()

    # The real constituents, every one simulated: nothing fails.
    assert (result.status, result.watchlist, result.total) == ("completed", "sp500", len(sp500))
    assert result.failed == 0 and result.analyzed == len(sp500)
    # One run: ~3 events per symbol plus shared workflow tasks, far under the
    # server's continue-as-new suggestion (4,096 events, 4 MiB) that
    # SYMBOLS_PER_RUN was sized for.
    assert len(sp500) <= SYMBOLS_PER_RUN
    assert (progress.runs, progress.done, progress.running) == (1, len(sp500), 0)
    print(f"\n{len(sp500)} symbols: {len(history.events)} events, {len(history.to_json())} bytes")
    assert len(history.events) < 6 * len(sp500) + 30 < 4096
    assert len(history.to_json()) < 4 * 1024 * 1024
    # Exactly one saved analysis per symbol of the watchlist.
    counts = await analyses_per_symbol(db_pool, screen_id)
    assert counts == dict.fromkeys(sp500, 1)
    # The ranking over everything saved agrees with the screen's: same top, same order.
    rows = await db_pool.fetch(
        "SELECT workflow_id, id, result FROM analyses WHERE screen_id = $1", screen_id
    )
    saved = [
        screen_entry(
            AnalysisResult.model_validate(r["result"]).model_copy(update={"analysis_id": r["id"]}),
            r["workflow_id"],
        )
        for r in rows
    ]
    assert result.top == rank(saved, 15)
    assert result.rejected == sum(1 for e in saved if e.recommendation == "reject")
    row = await db_pool.fetchrow("SELECT * FROM screens WHERE workflow_id = $1", screen_id)
    assert (row["status"], row["analyzed"], row["failed"]) == ("completed", len(sp500), 0)
    assert ScreenResult.model_validate(row["result"]) == result
    # Found by symbol too: the symbol's analyses name the screen they came from.
    for entry in result.top[:3]:
        found = await db_pool.fetch(
            "SELECT id, workflow_id, screen_id FROM analyses WHERE symbol = $1", entry.symbol
        )
        assert [(r["id"], r["workflow_id"], r["screen_id"]) for r in found] == [
            (entry.analysis_id, f"{screen_id}/{entry.symbol}", screen_id)
        ]


@DESIGNS
async def test_screen_survives_a_worker_restart(
    client: Client,
    db_pool: asyncpg.Pool,
    task_queue: str,
    market: SimulatedMarket,
    children: bool,
) -> None:
    symbols = market.symbols[100:140]
    screen_id = f"screen-restart-{uuid.uuid4().hex[:8]}"
    # 50 ms a broker call: the screen is still running when the worker stops.
    first = build_worker(client, services(db_pool, market, latency=0.05), task_queue)
    async with running(first):
        handle = await client.start_workflow(
            "ScreenerWorkflow",
            ScreenInput(symbols=symbols, max_concurrent=4, per_symbol_workflows=children),
            id=screen_id,
            task_queue=task_queue,
            result_type=ScreenResult,
        )
        at_stop = await wait_for_progress(handle, lambda p: p.done >= 8)
    # The first worker is gone mid-screen; a new one (new cache, new process
    # state) picks the screen and its symbols up from history.
    assert at_stop.done < len(symbols)
    async with build_worker(client, services(db_pool, market), task_queue):
        result = await handle.result()
    assert (result.analyzed, result.failed) == (len(symbols), 0)
    assert await analyses_per_symbol(db_pool, screen_id) == dict.fromkeys(symbols, 1)


class LostCompletionStore(AnalysisStore):
    """The first save of `symbol` commits, then the worker 'dies' before it can
    report: the activity attempt fails after its row is written."""

    def __init__(self, pool: asyncpg.Pool, symbol: str) -> None:
        super().__init__(pool)
        self.symbol = symbol
        self.failed = False

    async def save(
        self, workflow_id: str, run_id: str, result: AnalysisResult, screen_id: str | None
    ) -> SaveAnalysisResult:
        saved = await super().save(workflow_id, run_id, result, screen_id)
        if result.symbol == self.symbol and not self.failed:
            self.failed = True
            raise ConnectionResetError("lost after the commit")
        return saved


class CountingBroker(SimulatedBroker):
    def __init__(self, market: SimulatedMarket) -> None:
        super().__init__(market, InMemoryPaperAccount())
        self.charts: list[str] = []

    async def get_daily_candles(self, symbol: str, days: int) -> Any:
        self.charts.append(symbol)
        return await super().get_daily_candles(symbol, days)


@pytest.mark.parametrize("batch", [False, True], ids=["alone", "in-a-batch"])
async def test_a_retry_after_a_committed_save_saves_nothing_twice(
    client: Client, db_pool: asyncpg.Pool, task_queue: str, market: SimulatedMarket, batch: bool
) -> None:
    """The real activities: the retry finds the row and neither analyses nor saves again."""
    symbols = ["AAPL", "KO", "MSFT", "JPM", "PFE", "XOM", "T", "VZ"]
    broker = CountingBroker(market)
    store = LostCompletionStore(db_pool, "KO")
    analysis = AnalysisActivities(broker, store, Outbox(db_pool, []))
    screener = FakeScreenerActivities(symbols_per_activity=4 if batch else 1)
    async with build_worker(
        client,
        None,
        task_queue,
        activities=[analysis.screen_symbols, analysis.screen_symbol, *screener.all()],
    ):
        handle = await start_screen(
            client, task_queue, ScreenInput(symbols=symbols, max_concurrent=1), "screen-retry"
        )
        result = await handle.result()
    assert store.failed and (result.analyzed, result.failed) == (len(symbols), 0)
    assert await analyses_per_symbol(db_pool, handle.id) == dict.fromkeys(symbols, 1)
    assert sorted(broker.charts) == sorted(symbols)  # KO's retry read nothing from the broker
    runs = [
        e.activity_task_scheduled_event_attributes.activity_id
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name.startswith("screen_")
    ]
    # In a batch, KO is handed back and run alone; alone, its activity is retried.
    assert runs == (["AAPL+3", "KO", "PFE+3"] if batch else symbols)
    # The entry names the row the first attempt wrote.
    ko = next(e for e in result.top if e.symbol == "KO")
    row_id = await db_pool.fetchval(
        "SELECT id FROM analyses WHERE screen_id = $1 AND symbol = 'KO'", handle.id
    )
    assert ko.analysis_id == row_id


async def test_replaying_every_task_saves_nothing_twice(
    client: Client, db_pool: asyncpg.Pool, task_queue: str, market: SimulatedMarket
) -> None:
    """No workflow cache: every workflow task replays the screen from its history
    first. Replay never re-runs an activity, so each symbol is saved once."""
    symbols = market.symbols[200:230]
    async with build_worker(client, services(db_pool, market), task_queue, max_cached_workflows=0):
        handle = await start_screen(
            client, task_queue, ScreenInput(symbols=symbols, max_concurrent=5), "screen-replay"
        )
        result = await handle.result()
    assert (result.analyzed, result.failed) == (len(symbols), 0)
    assert await analyses_per_symbol(db_pool, handle.id) == dict.fromkeys(symbols, 1)
    # And the finished history replays without a difference.
    history: WorkflowHistory = await handle.fetch_history()
    replay = await Replayer(
        workflows=ALL_WORKFLOWS, data_converter=data_converter()
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replay.replay_failure is None
    assert await analyses_per_symbol(db_pool, handle.id) == dict.fromkeys(symbols, 1)


async def test_unknown_symbol_fails_only_that_symbol(
    client: Client, db_pool: asyncpg.Pool, task_queue: str, market: SimulatedMarket
) -> None:
    # ZZQQ passes the symbol format check; the simulated market reserves ZZ... as unknown.
    async with build_worker(client, services(db_pool, market), task_queue):
        result = await client.execute_workflow(
            "ScreenerWorkflow",
            ScreenInput(symbols=["AAPL", "ZZQQ", "KO"]),
            id=f"screen-unknown-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            result_type=ScreenResult,
        )
    assert (result.analyzed, result.failed) == (2, 1)
    [failure] = result.failures
    assert (failure.symbol, failure.error_type) == ("ZZQQ", "UnknownSymbol")
    assert failure.reason == "unknown symbol: ZZQQ"
    # Nothing saved for it; the others saved.
    assert await analyses_per_symbol(db_pool, result.screen_id) == {"AAPL": 1, "KO": 1}


async def starter(address: str, task_queue: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "TTAI_TASK_QUEUE": task_queue}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PROJECT_ROOT / "starter.py"), *args,
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["screen"], "either symbols or a watchlist"),
        (["screen", "AAPL", "--max-concurrent", "0"], "max_concurrent"),
        (["screen", "AAPL", "--max-concurrent", "10000"], "max_concurrent"),
        (["screen", "AAPL", "--watchlist", "default"], "either symbols or a watchlist"),
        (["screen", "AAPL", "bad;sym"], "invalid symbol"),
    ],
)
async def test_cli_rejects_bad_input_before_temporal(args: list[str], message: str) -> None:
    # An address where nothing listens: validation must fail before connecting.
    code, _, err = await starter("127.0.0.1:9", "unused", *args)
    assert code == 2
    assert message in err and err.startswith("error: invalid input")


async def test_cli_screen_watchlists_and_missing_watchlist(
    client: Client,
    dev_server: Any,
    db_pool: asyncpg.Pool,
    task_queue: str,
    market: SimulatedMarket,
) -> None:
    address = dev_server.address
    async with build_worker(client, services(db_pool, market), task_queue):
        code, out, err = await starter(address, task_queue, "screen", "--watchlist", "nope")
        # Refused before a screen starts (a watchlist lookup), so nothing is saved.
        assert code == 2 and "no watchlist named 'nope'" in err
        assert await db_pool.fetchval("SELECT count(*) FROM screens") == 0
        assert await db_pool.fetchval("SELECT count(*) FROM analyses") == 0

        code, out, _ = await starter(address, task_queue, "watchlist", "add", "mine", "KO", "PFE")
        assert code == 0 and "mine (2): KO PFE" in out
        code, out, _ = await starter(address, task_queue, "watchlist", "remove", "mine", "PFE")
        assert code == 0 and "mine (1): KO" in out
        code, out, _ = await starter(address, task_queue, "watchlist", "list", "--json")
        assert code == 0 and '"name": "mine"' in out and '"name": "default"' in out

        code, out, _ = await starter(
            address, task_queue, "screen", "KO", "AAPL", "KO", "--top", "1", "--json"
        )
        assert code == 0, out
        result = ScreenResult.model_validate_json(out)
        assert (result.total, result.analyzed, len(result.top)) == (2, 2, 1)
        code, out, _ = await starter(address, task_queue, "screen", "--watchlist", "mine")
        assert code == 0 and "1/1 analyzed" in out and "KO" in out
        # The option: one child AnalysisWorkflow per symbol.
        code, out, _ = await starter(
            address, task_queue, "screen", "KO", "--per-symbol-workflows", "--json"
        )
        assert code == 0, out
        screen_id = ScreenResult.model_validate_json(out).screen_id
        child = await client.get_workflow_handle(f"{screen_id}/KO").describe()
        assert child.status == WorkflowExecutionStatus.COMPLETED
