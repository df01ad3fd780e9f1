"""The scheduled reports' steps: build (broker + database), save, notify.

Broker sections show the broker's state when the activity runs; database
sections (analyses, alerts, screens) use the report's as-of window, so a
backfilled run lists that day's rows.
"""

from __future__ import annotations

from activities.errors import classified_errors
from activities.portfolio import day_trades
from ttai.broker.base import Broker
from ttai.db.analyses import AnalysisStore
from ttai.db.reports import NlvSnapshot, ReportStore
from ttai.domain.market_calendar import day_window, new_york_date, week_start
from ttai.domain.reports import content, markdown
from ttai.models.notifications import NotifyResult
from ttai.models.reports import (
    EndOfDaySummary,
    LatestReports,
    LatestReportsInput,
    MorningBriefing,
    NotifyReportRequest,
    Report,
    ReportRequest,
    SaveReportRequest,
    SaveReportResult,
    WeeklyReview,
)
from ttai.notify.messages import report_notification
from ttai.notify.outbox import Outbox
from ttai.telemetry.metrics import count
from ttai.temporal.lanes import LIVE
from ttai.temporal.steps import BROKER, DURABLE, READ, step


class ReportActivities:
    def __init__(
        self, broker: Broker, store: ReportStore, analyses: AnalysisStore, outbox: Outbox
    ) -> None:
        self._broker = broker
        self._store = store
        self._analyses = analyses
        self._outbox = outbox

    @step(BROKER, lane=LIVE)
    async def build_morning_briefing(self, request: ReportRequest) -> Report:
        with classified_errors():
            positions = await self._broker.get_positions()
            underlyings = sorted({p.underlying for p in positions})
            metrics = await self._broker.get_market_metrics(underlyings) if underlyings else {}
        briefing = content.morning_briefing(
            positions, metrics, await self._store.armed_alerts(request.as_of), request.day
        )
        return _report(request, briefing)

    @step(BROKER, lane=LIVE)
    async def build_end_of_day_summary(self, request: ReportRequest) -> Report:
        previous = await self._store.snapshot_before(request.day)
        with classified_errors():
            positions = await self._broker.get_positions()
            balances = await self._broker.get_balances()
            broker_day = new_york_date(await self._broker.now())
            # Today's trades and settlements: everything since the previous session's close.
            trades = await day_trades(self._broker, self._store, positions, request.day)
        start, end = day_window(request.day, request.day)
        summary = content.end_of_day(
            positions,
            trades.fills,
            trades.previous_closes,
            balances,
            previous.net_liquidating_value if previous else None,
            await self._store.alerts_triggered(start, end),
            await self._analyses.since(start, end),
            early_close=request.early_close,
            events=trades.session_events(),
        )
        # Only today's run may record today's NLV: a backfilled past day would
        # otherwise store the current value under that day.
        if broker_day == request.day:
            await self._store.record_snapshot(
                NlvSnapshot(
                    day=request.day,
                    net_liquidating_value=summary.net_liquidating_value,
                    unrealized_pnl=content.unrealized_pnl(positions),
                    marks={p.symbol: p.mark for p in positions},
                )
            )
        return _report(request, summary)

    @step(BROKER, lane=LIVE)
    async def build_weekly_review(self, request: ReportRequest) -> Report:
        with classified_errors():
            positions = await self._broker.get_positions()
            balances = await self._broker.get_balances()
        monday = week_start(request.day)
        start, end = day_window(monday, request.day)
        before = await self._store.snapshot_before(monday)
        review = content.weekly_review(
            monday,
            request.day,
            await self._analyses.since(start, end),
            await self._store.screens(start, end),
            await self._store.alerts_triggered(start, end),
            positions,
            balances,
            start_nlv=before.net_liquidating_value if before else None,
            start_unrealized=before.unrealized_pnl if before else None,
        )
        return _report(request, review)

    @step(DURABLE)
    async def save_report(self, request: SaveReportRequest) -> SaveReportResult:
        saved = await self._store.save(request.workflow_id, request.report)
        if saved.created:
            count("ttai_reports_total", kind=request.report.kind)
        return saved

    @step(DURABLE)
    async def notify_report(self, request: NotifyReportRequest) -> NotifyResult:
        notification = report_notification(request.workflow_id, request.report_id, request.report)
        return await self._outbox.publish(notification)

    @step(READ)
    async def latest_reports(self, request: LatestReportsInput) -> LatestReports:
        """LatestReportsWorkflow's one step: the newest saved report of each kind."""
        return LatestReports(reports=await self._store.latest(request.kinds))


_RENDERERS = {
    MorningBriefing: markdown.render_morning_briefing,
    EndOfDaySummary: markdown.render_end_of_day,
    WeeklyReview: markdown.render_weekly_review,
}


def _report(
    request: ReportRequest, body: MorningBriefing | EndOfDaySummary | WeeklyReview
) -> Report:
    return Report(
        kind=request.kind,
        as_of=request.as_of,
        day=request.day,
        title=markdown.title(request.kind, request.day),
        markdown=_RENDERERS[type(body)](body),
        content=body,
    )
