"""Re-record the report workflows' replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_reports

Runs each case on the time-skipping server with the real workflow code and
stand-in activities (same names, the known test portfolio of
tests/helpers/reports_portfolio.py through the real builders), and writes
tests/histories/<WorkflowType>-<case>.json. tests/replay/test_replay.py
replays them: a workflow change that would break runs already in flight
fails there.
"""

from __future__ import annotations

from datetime import date, datetime

from activities.calendar import CalendarActivities
from activities.reports import ReportActivities
from tests.helpers.histories import run_recorder, save, workflow_id
from tests.helpers.reports_portfolio import BALANCES, METRICS, POSITIONS
from tests.helpers.temporal import start_time_skipping
from tests.helpers.times import new_york
from ttai.domain.market_calendar import market_day, week_start
from ttai.domain.reports import content, markdown
from ttai.models.notifications import NotifyResult
from ttai.models.reports import (
    MarketDay,
    MarketDayRequest,
    NotifyReportRequest,
    Report,
    ReportInput,
    ReportRequest,
    SaveReportRequest,
    SaveReportResult,
)
from ttai.temporal.steps import same_step_as
from worker import build_worker
from workflows.reports import (
    REPORT_WORKFLOWS,
    EndOfDaySummaryWorkflow,
    MorningBriefingWorkflow,
    WeeklyReviewWorkflow,
)

TASK_QUEUE = "record-reports"


def _report(request: ReportRequest, body, render) -> Report:  # type: ignore[no-untyped-def]
    return Report(
        kind=request.kind,
        as_of=request.as_of,
        day=request.day,
        title=markdown.title(request.kind, request.day),
        markdown=render(body),
        content=body,
    )


@same_step_as(CalendarActivities.report_market_day)
async def fake_market_day(request: MarketDayRequest) -> MarketDay:
    return market_day(request)


@same_step_as(ReportActivities.build_morning_briefing)
async def fake_briefing(request: ReportRequest) -> Report:
    body = content.morning_briefing(POSITIONS, METRICS, [], request.day)
    return _report(request, body, markdown.render_morning_briefing)


@same_step_as(ReportActivities.build_end_of_day_summary)
async def fake_summary(request: ReportRequest) -> Report:
    body = content.end_of_day(POSITIONS, [], {}, BALANCES, 74_000, [], [], request.early_close)
    return _report(request, body, markdown.render_end_of_day)


@same_step_as(ReportActivities.build_weekly_review)
async def fake_review(request: ReportRequest) -> Report:
    monday = week_start(request.day)
    body = content.weekly_review(monday, request.day, [], [], [], POSITIONS, BALANCES, None, None)
    return _report(request, body, markdown.render_weekly_review)


@same_step_as(ReportActivities.save_report)
async def fake_save(request: SaveReportRequest) -> SaveReportResult:
    return SaveReportResult(report_id=1, created=True)


@same_step_as(ReportActivities.notify_report)
async def fake_notify(request: NotifyReportRequest) -> NotifyResult:
    return NotifyResult(notification_id=1, delivered=True, duplicate=False)


FAKE_ACTIVITIES = [
    fake_market_day,
    fake_briefing,
    fake_summary,
    fake_review,
    fake_save,
    fake_notify,
]

CASES: list[tuple[type, str, datetime]] = [
    (MorningBriefingWorkflow, "reported", new_york(date(2026, 12, 1), 9, 30)),
    (MorningBriefingWorkflow, "market-closed", new_york(date(2026, 12, 25), 9, 30)),
    (EndOfDaySummaryWorkflow, "early-close", new_york(date(2026, 11, 27), 16)),
    (WeeklyReviewWorkflow, "reported", new_york(date(2026, 12, 4), 17)),
]


async def main() -> None:
    env = await start_time_skipping()
    try:
        async with build_worker(
            env.client,
            None,
            TASK_QUEUE,
            workflows=REPORT_WORKFLOWS,
            activities=FAKE_ACTIVITIES,
        ):
            for workflow, case, as_of in CASES:
                name = f"{workflow.__temporal_workflow_definition.name}-{case}"  # type: ignore[attr-defined]
                handle = await env.client.start_workflow(
                    workflow.run,  # type: ignore[attr-defined]
                    ReportInput(as_of=as_of),
                    id=workflow_id(name),
                    task_queue=TASK_QUEUE,
                )
                await handle.result()
                await save(handle, name)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    run_recorder(main)
