"""ScreenerWorkflow on the time-skipping server with fake activities.

Both designs: one `screen_symbol` activity per symbol (the default) and one
child AnalysisWorkflow per symbol (`per_symbol_workflows`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.analysis_fakes import FakeAnalysisActivities
from tests.helpers.screener_fakes import (
    DESIGNS,
    FakeScreenerActivities,
    TimedAnalysis,
    max_in_flight,
    symbol_events,
)
from ttai.models.screener import (
    ScreenInput,
    ScreenProgress,
    ScreenResult,
)
from worker import build_worker
from workflows.screener import ROUNDS_PER_SLOT, symbols_per_activity

pytestmark = pytest.mark.usefixtures("without_search_attribute_upserts")


def screen_id() -> str:
    return f"screen-test-{uuid.uuid4().hex[:8]}"


async def run_screen(
    env: WorkflowEnvironment,
    task_queue: str,
    analysis: FakeAnalysisActivities,
    screener: FakeScreenerActivities,
    request: Any,
) -> tuple[ScreenResult, WorkflowHandle[Any, ScreenResult], ScreenProgress]:
    """Run a screen to its end; its progress query is read while the worker runs."""
    async with build_worker(
        env.client, None, task_queue, activities=analysis.all() + screener.all()
    ):
        handle = await env.client.start_workflow(
            "ScreenerWorkflow",
            request,
            id=screen_id(),
            task_queue=task_queue,
            result_type=ScreenResult,
            execution_timeout=timedelta(minutes=5),
        )
        result = await handle.result()
        return result, handle, await handle.query("progress", result_type=ScreenProgress)


@DESIGNS
async def test_screen_ranks_isolates_failures_and_saves_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str, children: bool
) -> None:
    analysis = FakeAnalysisActivities(charts={"TSLA": "reject"}, unknown=frozenset({"XYZ"}))
    screener = FakeScreenerActivities()
    request = ScreenInput(
        symbols=["MSFT", "XYZ", "TSLA", "AAPL", "KO", "MSFT"],
        top_n=3,
        notify=True,
        per_symbol_workflows=children,
    )
    result, handle, progress = await run_screen(
        time_skipping_env, task_queue, analysis, screener, request
    )

    assert (result.status, result.total, result.analyzed, result.rejected, result.failed) == (
        "completed", 5, 4, 1, 1,
    )  # fmt: skip
    # The three select alike (same fake analysis, same put): the symbol breaks
    # the tie. TSLA, a reject, never ranks.
    assert [(e.rank, e.symbol) for e in result.top] == [(1, "AAPL"), (2, "KO"), (3, "MSFT")]
    assert (result.top_n, result.note) == (3, None)  # a full top says nothing
    assert len({e.rank_score for e in result.top}) == 1
    assert result.top[0].workflow_id == f"{handle.id}/AAPL"
    assert result.top[0].analysis_id is not None
    [failure] = result.failures
    assert (failure.symbol, failure.error_type) == ("XYZ", "UnknownSymbol")
    assert "unknown symbol: XYZ" in failure.reason
    # The duplicate MSFT was analyzed once; the unknown symbol was not retried.
    assert analysis.calls["chart_analysis"] == 5
    assert analysis.calls["save_analysis"] == 4
    assert analysis.calls["screen_symbol"] == (0 if children else 5)
    assert analysis.calls["notify_analysis"] == 0  # per-symbol notifications off in a screen
    assert list(screener.saved.values()) == [result]
    assert [n.screen_id for n in screener.notified] == [handle.id]
    assert (progress.status, progress.total, progress.done, progress.failed, progress.running) == (
        "completed", 5, 5, 1, 0,
    )  # fmt: skip


@DESIGNS
async def test_saved_analyses_carry_the_screen_id(
    time_skipping_env: WorkflowEnvironment, task_queue: str, children: bool
) -> None:
    analysis = FakeAnalysisActivities()
    _, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        {"symbols": ["AAPL", "KO"], "per_symbol_workflows": children},
    )
    saved = {key[0]: result.symbol for key, result in analysis.saved.items()}
    assert saved == {f"{handle.id}/AAPL": "AAPL", f"{handle.id}/KO": "KO"}
    # Activities save under the screen's first run; a child under its own run.
    runs = {key[1] for key in analysis.saved}
    assert (runs == {handle.first_execution_run_id}) is not children


@DESIGNS
async def test_concurrency_never_above_the_bound(
    time_skipping_env: WorkflowEnvironment, task_queue: str, children: bool
) -> None:
    analysis = TimedAnalysis()
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AMD", "JPM", "KO", "PFE"]
    result, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        ScreenInput(symbols=symbols, max_concurrent=3, per_symbol_workflows=children),
    )
    assert result.analyzed == len(symbols)
    events = await symbol_events(handle)
    keys = [f"{handle.id}/{s}" if children else s for s in symbols]
    assert sorted(key for kind, key in events if kind == "start") == sorted(keys)
    # The screen's own history: started symbols minus finished ones, at every event.
    assert max_in_flight(events) == 3
    # What the activities saw: an analysis runs from its chart to its save.
    assert len(analysis.events) == 2 * len(symbols)
    assert max_in_flight(analysis.events) <= 3


async def test_symbols_run_on_the_bulk_broker_lane(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    _, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        FakeAnalysisActivities(),
        FakeScreenerActivities(),
        {"symbols": ["AAPL", "KO"]},
    )
    queues = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            queues[attrs.activity_type.name] = attrs.task_queue.name
    # Broker reads on their lane; the screen's own save on the main queue.
    assert queues == {"screen_symbol": f"{task_queue}-broker", "save_screen": task_queue}


async def test_a_transient_failure_is_retried_and_saved_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    analysis = FakeAnalysisActivities(flaky=2)
    result, _, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        {"symbols": ["AAPL", "KO"]},
    )
    assert (result.analyzed, result.failed) == (2, 0)
    assert analysis.calls["screen_symbol"] == 4  # two failed attempts, then both
    assert analysis.calls["save_analysis"] == 2
    assert len(analysis.saved) == 2


async def test_watchlist_screen_and_missing_watchlist(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    screener = FakeScreenerActivities({"mine": ["KO", "PFE"]})
    result, _, _ = await run_screen(
        time_skipping_env, task_queue, FakeAnalysisActivities(), screener, {"watchlist": "mine"}
    )
    assert (result.watchlist, result.total, result.analyzed) == ("mine", 2, 2)

    analysis = FakeAnalysisActivities()
    screener = FakeScreenerActivities()
    with pytest.raises(WorkflowFailureError) as failed:
        await run_screen(time_skipping_env, task_queue, analysis, screener, {"watchlist": "nope"})
    cause = failed.value.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "WatchlistNotFound"
    assert not analysis.calls and not screener.saved  # nothing analyzed, nothing written


@pytest.mark.parametrize(
    "raw",
    [
        {"symbols": ["AAPL"], "max_concurrent": 0},
        {"symbols": ["AAPL"], "max_concurrent": 10_000},
        {"symbols": []},
        {"symbols": ["AAPL"], "watchlist": "default"},
    ],
)
async def test_bad_raw_input_fails_at_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str, raw: dict[str, Any]
) -> None:
    """Raw JSON from another app skips the client-side model: the worker rejects it."""
    analysis = FakeAnalysisActivities()
    screener = FakeScreenerActivities()
    with pytest.raises(WorkflowFailureError):
        await run_screen(time_skipping_env, task_queue, analysis, screener, raw)
    assert not analysis.calls and not screener.saved


def test_symbols_per_activity() -> None:
    # About ROUNDS_PER_SLOT batches per slot, never more than the plan allows.
    assert symbols_per_activity(500, 50, 10) == 500 // (50 * ROUNDS_PER_SLOT)
    assert symbols_per_activity(500, 5, 10) == 10
    assert symbols_per_activity(6, 5, 10) == 1
    assert symbols_per_activity(500, 5, 1) == 1  # a budgeted lane: one symbol each


async def test_batches_rank_isolate_failures_and_save_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    symbols = [f"S{a}{b}" for a in "ABCDE" for b in "ABCD"] + ["XYZ", "TSLA", "KO", "MSFT"]
    # The first chart fails transiently: that symbol is retried alone.
    analysis = FakeAnalysisActivities(
        charts={"TSLA": "reject"}, unknown=frozenset({"XYZ"}), flaky=1
    )
    screener = FakeScreenerActivities()
    result, handle, progress = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        screener,
        ScreenInput(symbols=symbols, max_concurrent=2, top_n=30),
    )
    assert (result.total, result.analyzed, result.rejected, result.failed) == (24, 23, 1, 1)
    [failure] = result.failures
    assert (failure.symbol, failure.error_type, failure.reason) == (
        "XYZ", "UnknownSymbol", "unknown symbol: XYZ",
    )  # fmt: skip
    # 24 symbols, 2 slots: batches of 24 // (2 * ROUNDS_PER_SLOT) = 6.
    assert analysis.calls["screen_symbols"] == 4
    assert analysis.calls["screen_symbol"] == 1  # alone, after its transient failure
    assert analysis.calls["chart_analysis"] == 25
    assert len(analysis.saved) == analysis.calls["save_analysis"] == 23
    # The reject never ranks, and the top says it is short.
    assert {e.symbol for e in result.top} == set(symbols) - {"XYZ", "TSLA"}
    assert result.note == "only 22 candidates for the top 30: rejects never rank"
    assert all(e.analysis_id is not None for e in result.top)
    assert (progress.done, progress.failed, progress.running) == (24, 1, 0)
    started = {key for kind, key in await symbol_events(handle) if kind == "start"}
    batches = {"SAA+5", "SBC+5", "SDA+5", "SEC+5"}  # first symbol + 5 more
    [alone] = started - batches
    assert batches <= started and f"{alone}+5" in batches  # the first chart of a batch


async def test_batches_keep_the_concurrency_bound(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    analysis = TimedAnalysis()
    symbols = [f"S{a}{b}" for a in "ABCDEF" for b in "ABCDE"]
    result, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        ScreenInput(symbols=symbols, max_concurrent=3),
    )
    assert result.analyzed == len(symbols) == 30
    assert analysis.calls["screen_symbols"] == 6  # 30 // (3 * 2) = 5 per batch
    # Three batches at once at most, each one analysis at a time.
    assert max_in_flight(await symbol_events(handle)) == 3
    assert len(analysis.events) == 2 * len(symbols)
    assert max_in_flight(analysis.events) <= 3


async def test_a_budgeted_lane_takes_one_symbol_per_activity(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """With a rate limit on the bulk lane the plan says 1: the limit counts symbols."""
    analysis = FakeAnalysisActivities()
    symbols = [f"S{a}{b}" for a in "ABCD" for b in "ABCDE"]
    result, _, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(symbols_per_activity=1),
        ScreenInput(symbols=symbols, max_concurrent=2),
    )
    assert result.analyzed == len(symbols)
    assert (analysis.calls["screen_symbols"], analysis.calls["screen_symbol"]) == (0, 20)
