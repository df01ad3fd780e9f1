"""ScreenerWorkflow on the time-skipping server with fake activities."""

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
from tests.helpers.screener_fakes import FakeScreenerActivities, TimedAnalysis
from ttai.models.screener import (
    ScreenInput,
    ScreenProgress,
    ScreenResult,
)
from worker import build_worker

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


def max_in_flight(events: list[tuple[str, str]]) -> int:
    running = peak = 0
    for kind, _ in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    return peak


async def child_events(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, str]]:
    """('start', child ID) / ('end', child ID) in the screen's own history."""
    started = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    closed = {
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    }
    out: list[tuple[str, str]] = []
    async for event in handle.fetch_history_events():
        if event.event_type == started:
            out.append(
                (
                    "start",
                    event.start_child_workflow_execution_initiated_event_attributes.workflow_id,
                )
            )
        elif event.event_type in closed:
            attrs = next(
                getattr(event, field)
                for field in event.DESCRIPTOR.fields_by_name
                if field.startswith("child_workflow_execution_") and event.HasField(field)
            )
            out.append(("end", attrs.workflow_execution.workflow_id))
    return out


async def test_screen_ranks_isolates_failures_and_saves_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    analysis = FakeAnalysisActivities(charts={"TSLA": "reject"}, unknown=frozenset({"XYZ"}))
    screener = FakeScreenerActivities()
    request = ScreenInput(
        symbols=["MSFT", "XYZ", "TSLA", "AAPL", "KO", "MSFT"], top_n=3, notify=True
    )
    result, handle, progress = await run_screen(
        time_skipping_env, task_queue, analysis, screener, request
    )

    assert (result.status, result.total, result.analysed, result.rejected, result.failed) == (
        "completed", 5, 4, 1, 1,
    )  # fmt: skip
    # The three select alike (same fake analysis, same put): the symbol breaks
    # the tie. TSLA, a reject, ranks last and is cut by top_n.
    assert [(e.rank, e.symbol) for e in result.top] == [(1, "AAPL"), (2, "KO"), (3, "MSFT")]
    assert len({e.rank_score for e in result.top}) == 1
    assert result.top[0].workflow_id == f"{handle.id}/AAPL"
    [failure] = result.failures
    assert (failure.symbol, failure.error_type) == ("XYZ", "UnknownSymbol")
    assert "unknown symbol: XYZ" in failure.reason
    # The duplicate MSFT was analysed once; the unknown symbol was not retried.
    assert analysis.calls["chart_analysis"] == 5
    assert analysis.calls["save_analysis"] == 4
    assert analysis.calls["notify_analysis"] == 0  # per-symbol notifications off in a screen
    assert list(screener.saved.values()) == [result]
    assert [n.screen_id for n in screener.notified] == [handle.id]
    assert (progress.status, progress.total, progress.done, progress.failed, progress.running) == (
        "completed", 5, 5, 1, 0,
    )  # fmt: skip


async def test_children_carry_the_screen_id(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    analysis = FakeAnalysisActivities()
    _, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        {"symbols": ["AAPL", "KO"]},
    )
    saved = {key[0]: result.symbol for key, result in analysis.saved.items()}
    assert saved == {f"{handle.id}/AAPL": "AAPL", f"{handle.id}/KO": "KO"}


async def test_concurrency_never_above_the_bound(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    analysis = TimedAnalysis()
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AMD", "JPM", "KO", "PFE"]
    result, handle, _ = await run_screen(
        time_skipping_env,
        task_queue,
        analysis,
        FakeScreenerActivities(),
        ScreenInput(symbols=symbols, max_concurrent=3),
    )
    assert result.analysed == len(symbols)
    children = await child_events(handle)
    assert sorted(child for kind, child in children if kind == "start") == sorted(
        f"{handle.id}/{s}" for s in symbols
    )
    # The screen's own history: started children minus closed ones, at every event.
    assert max_in_flight(children) == 3
    # What the activities saw: an analysis runs from its chart to its save.
    assert len(analysis.events) == 2 * len(symbols)
    assert max_in_flight(analysis.events) <= 3


async def test_watchlist_screen_and_missing_watchlist(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    screener = FakeScreenerActivities({"mine": ["KO", "PFE"]})
    result, _, _ = await run_screen(
        time_skipping_env, task_queue, FakeAnalysisActivities(), screener, {"watchlist": "mine"}
    )
    assert (result.watchlist, result.total, result.analysed) == ("mine", 2, 2)

    analysis = FakeAnalysisActivities()
    screener = FakeScreenerActivities()
    with pytest.raises(WorkflowFailureError) as failed:
        await run_screen(time_skipping_env, task_queue, analysis, screener, {"watchlist": "nope"})
    cause = failed.value.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "WatchlistNotFound"
    assert not analysis.calls and not screener.saved  # nothing analysed, nothing written


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
