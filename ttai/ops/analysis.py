"""Analyze one symbol: validate with the workflow's own model, start
AnalysisWorkflow, and optionally wait for its result."""

from __future__ import annotations

from pydantic import Field

from ttai.models.analysis import ANALYSIS_WORKFLOW, AnalysisInput, AnalysisResult
from ttai.models.common import Model, WorkflowId
from ttai.ops import calls
from ttai.ops.calls import TaskRef
from ttai.ops.connection import Connection


class AnalyzeOutcome(Model):
    """The started analysis, and its result when the call waited for it."""

    task: TaskRef
    result: AnalysisResult | None = Field(default=None, description="None when not waited for.")


async def analyze(
    conn: Connection,
    request: AnalysisInput,
    *,
    workflow_id: WorkflowId | None = None,
    wait: bool = True,
    cancel_if_abandoned: bool = False,
) -> AnalyzeOutcome:
    """Start an analysis (ID `analysis-<SYMBOL>-<random>` unless given); with
    `wait`, return its result too. `cancel_if_abandoned`: a caller that gives
    up while waiting cancels the analysis."""
    workflow_id = calls.checked_workflow_id(workflow_id) or calls.new_id(
        f"analysis-{request.symbol}"
    )
    handle, task = await calls.start(
        conn, ANALYSIS_WORKFLOW, request, workflow_id=workflow_id, result_type=AnalysisResult
    )
    if not wait:
        return AnalyzeOutcome(task=task)
    result = await calls.wait_result(handle, cancel_if_abandoned=cancel_if_abandoned)
    return AnalyzeOutcome(task=task, result=result)
