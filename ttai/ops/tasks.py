"""The original TaskManager over Temporal: a task is a workflow execution.

- `list_tasks`: visibility, filtered by running/finished, workflow type, and
  the analyses' search attributes (`TtaiSymbol`, `TtaiRecommendation`);
- `get_task`: describe, plus what the workflow says of itself while it runs
  (a screen's progress, an analysis' stage) and its result or failure once
  it is closed;
- `task_result`: wait for the result;
- `cancel_task`: request cancellation of a running workflow.

Only workflows on the connection's task queue are listed. `get_task`,
`task_result` and `cancel_task` act only on TASK_TYPES there (analyses,
screens, reports): a monitor is steered through its own operations
(ttai.ops.monitors), and on a shared cluster other applications' workflows
are not ours to read or cancel. Anything else is "not found", whether it
exists or not.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import Field

from ttai.models.analysis import ANALYSIS_WORKFLOW, STAGE_QUERY, AnalysisStage, Recommendation
from ttai.models.common import Model, Symbol, WorkflowId
from ttai.models.reports import REPORT_WORKFLOWS
from ttai.models.screener import PROGRESS_QUERY, SCREENER_WORKFLOW, ScreenProgress
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import Conflict, InvalidInput, NotFound, failure_message, translated

if TYPE_CHECKING:
    from temporalio.client import (
        WorkflowExecution,
        WorkflowExecutionDescription,
        WorkflowHandle,
    )

WorkflowType = Literal[
    "AnalysisWorkflow",
    "ScreenerWorkflow",
    "WatchlistWorkflow",
    "AlertsWorkflow",
    "PortfolioMonitorWorkflow",
    "PriceAlertMonitorWorkflow",
    "PositionSyncWorkflow",
    "OutboxMonitorWorkflow",
    "MorningBriefingWorkflow",
    "EndOfDaySummaryWorkflow",
    "WeeklyReviewWorkflow",
    "NotificationsWorkflow",
    "PortfolioWorkflow",
    "LatestReportsWorkflow",
]
"""Every workflow type the worker hosts (a test keeps it equal to workflows/registry.py)."""

TASK_TYPES = frozenset({ANALYSIS_WORKFLOW, SCREENER_WORKFLOW, *REPORT_WORKFLOWS.values()})
"""What the task operations act on: the work a person starts (DESIGN.md)."""

TaskState = Literal["running", "finished"]
TaskStatusName = Literal[
    "running",
    "completed",
    "failed",
    "canceled",
    "terminated",
    "continued_as_new",
    "timed_out",
    "unknown",
]
MAX_LIST = 500

SYMBOL_ATTRIBUTE = "TtaiSymbol"
RECOMMENDATION_ATTRIBUTE = "TtaiRecommendation"
STRATEGY_ATTRIBUTE = "TtaiStrategy"


class TaskFilter(Model):
    """Which tasks to list; every filter is optional."""

    state: TaskState | None = Field(
        default=None, description="running, or finished (completed, failed, cancelled ...)."
    )
    workflow_type: WorkflowType | None = None
    symbol: Symbol | None = Field(default=None, description="Analyses of this symbol.")
    recommendation: Recommendation | None = Field(
        default=None, description="Analyses that ended with this recommendation."
    )
    limit: int = Field(default=20, ge=1, le=MAX_LIST)


class TaskSummary(Model):
    workflow_id: str
    run_id: str
    workflow_type: str
    status: TaskStatusName
    started_at: datetime | None
    closed_at: datetime | None
    symbol: str | None = None
    recommendation: str | None = None
    strategy: str | None = None


class TaskList(Model):
    query: str = Field(description="The visibility query, for the Web UI or `temporal`.")
    tasks: list[TaskSummary] = Field(description="Newest first.")


class TaskInfo(TaskSummary):
    task_queue: str
    history_length: int
    search_attributes: dict[str, Any]
    stage: str | None = Field(default=None, description="A running analysis' current step.")
    progress: ScreenProgress | None = Field(default=None, description="A running screen's.")
    result: dict[str, Any] | None = Field(default=None, description="Once completed.")
    failure: str | None = Field(default=None, description="Why it failed, once failed.")


class TaskResult(Model):
    workflow_id: str
    workflow_type: str
    result: Any = Field(description="The workflow's result as JSON.")


class CancelRequested(Model):
    workflow_id: str
    workflow_type: str
    cancel_requested: bool = True


def _status(value: Any) -> TaskStatusName:
    name = value.name.lower() if value is not None else "unknown"
    return name if name in get_args(TaskStatusName) else "unknown"  # type: ignore[return-value]


def _attributes(execution: WorkflowExecution) -> dict[str, Any]:
    return {pair.key.name: pair.value for pair in execution.typed_search_attributes}


def _summary_fields(execution: WorkflowExecution) -> dict[str, Any]:
    attrs = _attributes(execution)
    return {
        "workflow_id": execution.id,
        "run_id": execution.run_id,
        "workflow_type": execution.workflow_type,
        "status": _status(execution.status),
        "started_at": execution.start_time,
        "closed_at": execution.close_time,
        "symbol": attrs.get(SYMBOL_ATTRIBUTE),
        "recommendation": attrs.get(RECOMMENDATION_ATTRIBUTE),
        "strategy": attrs.get(STRATEGY_ATTRIBUTE),
    }


def _quoted(value: str) -> str:
    if "'" in value or "\\" in value:
        raise InvalidInput(f"invalid value for a visibility query: {value!r}")
    return f"'{value}'"


def visibility_query(task_queue: str, task_filter: TaskFilter) -> str:
    """The list filter as a visibility query (values are validated, then quoted)."""
    clauses = [f"TaskQueue = {_quoted(task_queue)}"]
    if task_filter.state == "running":
        clauses.append("ExecutionStatus = 'Running'")
    elif task_filter.state == "finished":
        clauses.append("ExecutionStatus != 'Running'")
    if task_filter.workflow_type:
        clauses.append(f"WorkflowType = {_quoted(task_filter.workflow_type)}")
    if task_filter.symbol:
        clauses.append(f"{SYMBOL_ATTRIBUTE} = {_quoted(task_filter.symbol)}")
    if task_filter.recommendation:
        clauses.append(f"{RECOMMENDATION_ATTRIBUTE} = {_quoted(task_filter.recommendation)}")
    return " AND ".join(clauses)


async def list_tasks(conn: Connection, task_filter: TaskFilter | None = None) -> TaskList:
    """Workflows on the task queue matching the filter, newest first."""
    task_filter = task_filter or TaskFilter()
    query = visibility_query(conn.task_queue, task_filter)
    client = await conn.client()
    tasks = []
    with translated("workflow list"):
        async for execution in client.list_workflows(query, limit=task_filter.limit):
            tasks.append(TaskSummary(**_summary_fields(execution)))
    return TaskList(query=query, tasks=tasks)


async def _task(
    conn: Connection, workflow_id: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionDescription]:
    """The task's latest run; NotFound unless it is one of TASK_TYPES on our queue."""
    outside = NotFound(
        f"{calls.not_found_message(workflow_id)} among TTAI's tasks (analyses, screens and "
        f"reports on task queue {conn.task_queue!r}); monitors are steered with `monitors`"
    )
    try:
        handle, desc = await calls.describe(conn, workflow_id)
    except NotFound:
        raise outside from None
    if desc.task_queue != conn.task_queue or desc.workflow_type not in TASK_TYPES:
        raise outside
    return handle, desc


async def get_task(
    conn: Connection, workflow_id: WorkflowId, *, include_result: bool = True
) -> TaskInfo:
    """Where a task stands: status, and live progress, result or failure."""
    handle, desc = await _task(conn, workflow_id)
    fields = _summary_fields(desc)
    info: dict[str, Any] = {
        **fields,
        "task_queue": desc.task_queue,
        "history_length": desc.history_length,
        "search_attributes": _attributes(desc),
    }
    if fields["status"] == "running":
        info |= await _live(handle, desc.workflow_type)
    elif include_result and fields["status"] in ("completed", "failed"):
        info |= await _outcome(handle)
    return TaskInfo(**info)


async def _live(handle: WorkflowHandle[Any, Any], workflow_type: str) -> dict[str, Any]:
    """What a running workflow's own query says; nothing when it cannot answer."""
    try:
        if workflow_type == SCREENER_WORKFLOW:
            return {"progress": await handle.query(PROGRESS_QUERY, result_type=ScreenProgress)}
        if workflow_type == ANALYSIS_WORKFLOW:
            stage = await handle.query(STAGE_QUERY, result_type=AnalysisStage)
            return {"stage": stage.stage}
    except asyncio.CancelledError:
        raise
    except Exception:  # no worker right now, or still starting: the status says enough
        return {}
    return {}


async def _outcome(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    try:
        result = await handle.result(follow_runs=False)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # the failure itself is the answer
        return {"failure": failure_message(err)}
    return {"result": result if isinstance(result, dict) else {"value": result}}


async def task_result(
    conn: Connection, workflow_id: WorkflowId, *, cancel_if_abandoned: bool = False
) -> TaskResult:
    """Wait for the task's result (its failure raises, as one line)."""
    handle, desc = await _task(conn, workflow_id)
    result = await calls.wait_result(handle, cancel_if_abandoned=cancel_if_abandoned)
    return TaskResult(workflow_id=workflow_id, workflow_type=desc.workflow_type, result=result)


async def cancel_task(conn: Connection, workflow_id: WorkflowId) -> CancelRequested:
    """Ask a running task to cancel (Conflict when it is not running)."""
    handle, desc = await _task(conn, workflow_id)
    status = _status(desc.status)
    if status != "running":
        raise Conflict(f"{workflow_id} is not running ({status})")
    with translated(workflow_id, not_found=calls.not_found_message(workflow_id)):
        await handle.cancel()
    return CancelRequested(workflow_id=workflow_id, workflow_type=desc.workflow_type)
