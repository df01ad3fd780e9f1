"""AnalysisWorkflow on the time-skipping server with fake activities."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.analysis_fakes import FakeAnalysisActivities
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.temporal import search_attributes
from worker import build_worker

pytestmark = pytest.mark.usefixtures("without_search_attribute_upserts")


async def run_analysis(
    env: WorkflowEnvironment, task_queue: str, fakes: FakeAnalysisActivities, request: Any
) -> AnalysisResult:
    async with build_worker(env.client, None, task_queue, activities=fakes.all()):
        return await env.client.execute_workflow(
            "AnalysisWorkflow",
            request,
            id=f"analysis-test-{uuid.uuid4()}",
            task_queue=task_queue,
            result_type=AnalysisResult,
            execution_timeout=timedelta(minutes=5),
        )


async def test_full_pipeline_saves_and_notifies_once(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    without_search_attribute_upserts: list[object],
) -> None:
    fakes = FakeAnalysisActivities()
    result = await run_analysis(time_skipping_env, task_queue, fakes, AnalysisInput(symbol="AAPL"))
    # bullish 2 + select 2 + positive 1 = 5 -> strong_select
    assert (result.recommendation, result.score) == ("strong_select", 5)
    assert result.options is not None and result.research is not None
    assert result.analysis_id == 1
    assert fakes.calls == {
        "chart_analysis": 1,
        "options_analysis": 1,
        "research_analysis": 1,
        "synthesize_analysis": 1,
        "save_analysis": 1,
        "notify_analysis": 1,
    }
    assert fakes.notified == ["AAPL"]
    upserted = {u.key.name: u.value for u in without_search_attribute_upserts}  # type: ignore[attr-defined]
    assert upserted == {
        search_attributes.SYMBOL.name: "AAPL",
        search_attributes.STRATEGY.name: "csp",
        search_attributes.RECOMMENDATION.name: "strong_select",
    }


async def test_chart_reject_ends_early_saved_not_notified(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeAnalysisActivities(charts={"TSLA": "reject"})
    result = await run_analysis(time_skipping_env, task_queue, fakes, {"symbol": "TSLA"})
    assert result.recommendation == "reject"
    assert result.options is None and result.research is None
    assert fakes.calls == {"chart_analysis": 1, "save_analysis": 1}


async def test_notify_false_skips_notification(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeAnalysisActivities()
    await run_analysis(time_skipping_env, task_queue, fakes, {"symbol": "MSFT", "notify": False})
    assert fakes.calls["save_analysis"] == 1
    assert fakes.calls["notify_analysis"] == 0


async def test_transient_broker_errors_are_retried(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeAnalysisActivities(flaky=2)
    result = await run_analysis(time_skipping_env, task_queue, fakes, {"symbol": "KO"})
    assert result.symbol == "KO"
    assert fakes.calls["chart_analysis"] == 3


async def test_unknown_symbol_fails_fast_without_retries_or_writes(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeAnalysisActivities(unknown=frozenset({"ZZZZ"}))
    with pytest.raises(WorkflowFailureError) as failure:
        await run_analysis(time_skipping_env, task_queue, fakes, {"symbol": "ZZZZ"})
    assert isinstance(failure.value.cause, ActivityError)
    cause = failure.value.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "UnknownSymbol"
    assert fakes.calls == {"chart_analysis": 1}
    assert fakes.saved == {}


@pytest.mark.parametrize(
    "raw",
    [
        {"symbol": ""},
        {"symbol": "TOOLONGSYMBOL"},
        {"symbol": "aapl"},
        {"symbol": "AAPL'; DROP TABLE analyses;--"},
        {"symbol": "ÄPFEL"},
        {"symbol": 42},
        {"symbol": "AAPL", "strategy": "iron_condor"},
        {"symbol": "AAPL", "notify": "sometimes"},
        {"symbol": "AAPL", "unexpected": 1},
        {},
    ],
)
async def test_bad_raw_input_fails_the_workflow_not_the_task(
    time_skipping_env: WorkflowEnvironment, task_queue: str, raw: dict[str, Any]
) -> None:
    """Raw JSON from another app or the CLI: one clear failure, nothing run."""
    fakes = FakeAnalysisActivities()
    with pytest.raises(WorkflowFailureError) as failure:
        await run_analysis(time_skipping_env, task_queue, fakes, raw)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ValidationError"
    assert "validation error" in cause.message
    assert sum(fakes.calls.values()) == 0
