"""The scheduled reports: MorningBriefingWorkflow, EndOfDaySummaryWorkflow, WeeklyReviewWorkflow.

All three have one shape: check the NYSE calendar -> build (broker and
database reads) -> save (idempotent per workflow ID) -> notify once. A day the
market is closed ends as "skipped: market closed" without saving or
notifying, which also covers a closure the schedule's skip list missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from workflows.bounds import require_bounded_id

with workflow.unsafe.imports_passed_through():
    from activities.calendar import CalendarActivities
    from activities.reports import ReportActivities
    from ttai.models.reports import (
        REPORT_WORKFLOWS,
        MarketDayRequest,
        NotifyReportRequest,
        ReportInput,
        ReportKind,
        ReportRequest,
        ReportResult,
        SaveReportRequest,
    )
    from ttai.temporal.steps import run_step

# Set by the schedule on every run it starts (also on trigger and backfill).
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

_BUILD = {
    "morning_briefing": ReportActivities.build_morning_briefing,
    "end_of_day": ReportActivities.build_end_of_day_summary,
    "weekly_review": ReportActivities.build_weekly_review,
}


def scheduled_time() -> datetime:
    """The time this run stands for: the scheduled time, else the start time."""
    info = workflow.info()
    return info.typed_search_attributes.get(SCHEDULED_START) or info.workflow_start_time


class ReportWorkflowBase:
    KIND: ClassVar[ReportKind]
    # The weekly review runs if the week had any session, so a Friday holiday
    # (Good Friday) does not lose the week's review.
    SCOPE: ClassVar[Literal["day", "week"]] = "day"

    async def report(self, request: ReportInput) -> ReportResult:
        require_bounded_id()  # `report:<ID>` keys its notification and its saved row
        as_of = request.as_of or scheduled_time()
        workflow.set_current_details(f"{self.KIND} as of {as_of.isoformat()}: calendar")
        market = await run_step(
            CalendarActivities.report_market_day, MarketDayRequest(as_of=as_of, scope=self.SCOPE)
        )
        result = ReportResult(kind=self.KIND, as_of=as_of, day=market.day, status="skipped")
        if not market.open:
            workflow.set_current_details("skipped: market closed")
            return result.model_copy(update={"reason": "market closed"})
        workflow.set_current_details(f"{self.KIND} {market.day}: building")
        report = await run_step(
            _BUILD[self.KIND],
            ReportRequest(
                kind=self.KIND, as_of=as_of, day=market.day, early_close=market.early_close
            ),
        )
        workflow_id = workflow.info().workflow_id
        saved = await run_step(
            ReportActivities.save_report, SaveReportRequest(workflow_id=workflow_id, report=report)
        )
        notification_id = None
        if request.notify:
            sent = await run_step(
                ReportActivities.notify_report,
                NotifyReportRequest(
                    workflow_id=workflow_id, report_id=saved.report_id, report=report
                ),
            )
            notification_id = sent.notification_id
        workflow.set_current_details(f"reported: {report.title}")
        return result.model_copy(
            update={
                "status": "reported",
                "title": report.title,
                "report_id": saved.report_id,
                "notification_id": notification_id,
            }
        )


@workflow.defn(name=REPORT_WORKFLOWS["morning_briefing"])
class MorningBriefingWorkflow(ReportWorkflowBase):
    KIND = "morning_briefing"

    @workflow.run
    async def run(self, request: ReportInput) -> ReportResult:
        return await self.report(request)


@workflow.defn(name=REPORT_WORKFLOWS["end_of_day"])
class EndOfDaySummaryWorkflow(ReportWorkflowBase):
    KIND = "end_of_day"

    @workflow.run
    async def run(self, request: ReportInput) -> ReportResult:
        return await self.report(request)


@workflow.defn(name=REPORT_WORKFLOWS["weekly_review"])
class WeeklyReviewWorkflow(ReportWorkflowBase):
    KIND = "weekly_review"
    SCOPE = "week"

    @workflow.run
    async def run(self, request: ReportInput) -> ReportResult:
        return await self.report(request)


REPORT_WORKFLOWS: list[type] = [
    MorningBriefingWorkflow,
    EndOfDaySummaryWorkflow,
    WeeklyReviewWorkflow,
]
