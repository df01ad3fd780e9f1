"""Reports: the latest saved report of each kind, and running one now.

- `latest_reports`: LatestReportsWorkflow reads the newest saved report of
  each kind (title and the markdown sent to the channels).
- `run_report`: starts the kind's report workflow directly, with a fresh ID
  `report-<kind>-now-<random>` and "as of" now (or the `as_of` given). Not a
  schedule trigger, on purpose: it works whether or not the schedules are
  applied or paused, is never skipped by the schedule's overlap policy, and
  returns the workflow's ID and result. It checks the calendar like a
  scheduled run (a closed market ends as "skipped"), saves under its own ID
  and notifies unless `notify` is false. `schedules.trigger_schedule` remains
  the way to make the schedule itself fire.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from ttai.models.common import Model
from ttai.models.reports import (
    LatestReports,
    LatestReportsInput,
    ReportInput,
    ReportKind,
    ReportResult,
)
from ttai.ops import calls
from ttai.ops.calls import TaskRef
from ttai.ops.connection import Connection

LATEST_WORKFLOW = "LatestReportsWorkflow"


class RunReportInput(Model):
    kind: ReportKind
    as_of: AwareDatetime | None = Field(
        default=None, description="Report as of this instant (default: now)."
    )
    notify: bool = Field(default=True, description="Send it to the channels, as scheduled.")


class ReportRun(Model):
    task: TaskRef
    result: ReportResult | None = Field(default=None, description="None when not waited for.")


async def latest_reports(
    conn: Connection, request: LatestReportsInput | None = None
) -> LatestReports:
    return await calls.execute_command(
        conn,
        LATEST_WORKFLOW,
        request or LatestReportsInput(),
        id_prefix="reports-latest",
        result_type=LatestReports,
    )


async def run_report(
    conn: Connection,
    request: RunReportInput,
    *,
    wait: bool = True,
    cancel_if_abandoned: bool = False,
) -> ReportRun:
    """Build (save, notify) a report of `request.kind` now; with `wait`, return its result."""
    from ttai.temporal.schedules import EXECUTION_TIMEOUT, SCHEDULES

    [schedule] = [s for s in SCHEDULES if s.kind == request.kind]
    handle, task = await calls.start(
        conn,
        schedule.workflow,
        ReportInput(as_of=request.as_of, notify=request.notify),
        workflow_id=calls.new_id(f"{schedule.schedule_id}-now"),
        result_type=ReportResult,
        execution_timeout=EXECUTION_TIMEOUT,
    )
    if not wait:
        return ReportRun(task=task)
    result = await calls.wait_result(handle, cancel_if_abandoned=cancel_if_abandoned)
    return ReportRun(task=task, result=result)
