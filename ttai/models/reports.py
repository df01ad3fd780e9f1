"""Inputs and results of the scheduled report workflows and their activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

from pydantic import AliasChoices, AwareDatetime, Field

from ttai.models.analysis import Recommendation
from ttai.models.common import Model, Symbol, WorkflowId
from ttai.models.market import OptionEventKind

ReportKind = Literal["morning_briefing", "end_of_day", "weekly_review"]

REPORT_WORKFLOWS: dict[ReportKind, str] = {
    "morning_briefing": "MorningBriefingWorkflow",
    "end_of_day": "EndOfDaySummaryWorkflow",
    "weekly_review": "WeeklyReviewWorkflow",
}
SCHEDULE_IDS: dict[ReportKind, str] = {
    "morning_briefing": "report-morning-briefing",
    "end_of_day": "report-end-of-day",
    "weekly_review": "report-weekly-review",
}
"""The report schedules' fixed IDs (part of the public contract)."""
LATEST_REPORTS_WORKFLOW = "LatestReportsWorkflow"


class ReportInput(Model):
    """What a schedule (or `temporal workflow start`) passes a report workflow.

    Empty from a schedule: the report is then "as of" the run's scheduled time
    (the `TemporalScheduledStartTime` search attribute), so a backfilled run
    reports the day it stands for.
    """

    as_of: AwareDatetime | None = Field(
        default=None,
        description="Report as of this instant, with its UTC offset (default: the scheduled time).",
    )
    notify: bool = True


class MarketDayRequest(Model):
    as_of: datetime
    scope: Literal["day", "week"] = Field(
        default="day",
        description='"day": open if the as-of day (New York) has a session; '
        '"week": if any day from that week\'s Monday to the as-of day has one.',
    )


class MarketDay(Model):
    day: date = Field(description="The as-of date in New York.")
    open: bool
    sessions: int = Field(description="Sessions within the scope.")
    early_close: bool = Field(description="The as-of day's session closes early (13:00 ET).")


class ReportRequest(Model):
    kind: ReportKind
    as_of: datetime
    day: date = Field(description="The as-of date in New York.")
    early_close: bool = False


class PositionLine(Model):
    symbol: str
    underlying: Symbol
    instrument: Literal["equity", "option"]
    quantity: float
    mark: float
    option_kind: Literal["put", "call"] | None = None
    strike: float | None = None
    expiration: date | None = None
    days_to_expiry: int | None = None
    delta: float | None = None


class EarningsLine(Model):
    underlying: Symbol
    date: date
    days_away: int


class AlertLine(Model):
    alert_id: str
    symbol: str
    description: str
    triggered_at: datetime | None = None


class MorningBriefing(Model):
    positions: list[PositionLine]
    expiring: list[PositionLine] = Field(description="Options expiring within 7 days.")
    near_the_money_puts: list[PositionLine] = Field(
        description="Short puts whose |delta| is at or above the threshold."
    )
    delta_threshold: float
    armed_alerts: list[AlertLine]
    earnings: list[EarningsLine] = Field(description="Holdings reporting within 7 days.")


class PositionPnl(Model):
    """One instrument held now or traded today (see `ttai/domain/analytics/pnl.py`)."""

    symbol: str
    label: str = Field(description='Short name, e.g. "AAPL 150P 2026-12-04".')
    quantity: float = Field(description="Held now; 0 for a position closed today.")
    mark: float = Field(description="Now; for a position closed today, its last fill price.")
    prev_close: float = Field(
        description="Previous close of the quantity held overnight; 0 when none or unused."
    )
    bought: float = Field(default=0.0, description="Quantity bought today.")
    sold: float = Field(default=0.0, description="Quantity sold today.")
    day_pnl: float | None = Field(
        description="None when a quantity held overnight has no known previous close."
    )
    settled: OptionEventKind | None = Field(
        default=None,
        description="An option that left today by its expiration, an assignment or an "
        "exercise (not a trade).",
    )

    @property
    def traded(self) -> float:
        """Net quantity bought (+) or sold (-) today."""
        return self.bought - self.sold


class AnalysisLine(Model):
    symbol: Symbol
    recommendation: Recommendation
    score: int
    completed_at: datetime


class EndOfDaySummary(Model):
    positions: list[PositionPnl] = Field(
        description="Every instrument held now or traded since the previous close."
    )
    total_day_pnl: float = Field(
        description="Since the previous close, trades included; lines without a "
        "previous close are left out."
    )
    net_liquidating_value: float
    previous_net_liquidating_value: float | None = Field(
        description="From the last NLV snapshot before today; None on the first run."
    )
    nlv_change: float | None
    early_close: bool
    alerts_triggered: list[AlertLine]
    analyses: list[AnalysisLine]


class ScreenLine(Model):
    screen_id: str
    completed_at: datetime
    analyzed: int | None = Field(
        default=None,
        # Reports saved and recorded before the one spelling say "analysed".
        validation_alias=AliasChoices("analyzed", "analysed"),
    )
    top: list[str] = Field(default_factory=list)


class WeeklyReview(Model):
    week_start: date
    week_end: date
    analyses_count: int
    recommendations: dict[str, int] = Field(description="Analyses per recommendation.")
    top_picks: list[AnalysisLine]
    screens: list[ScreenLine]
    alerts_triggered: list[AlertLine]
    net_liquidating_value: float
    start_net_liquidating_value: float | None = Field(
        description="From the last NLV snapshot before the week; None without one."
    )
    nlv_change: float | None
    unrealized_pnl: float = Field(description="Open positions: (mark - open price) x size.")
    unrealized_change: float | None
    realized_estimate: float | None = Field(
        description="NLV change minus unrealised change: realised P&L plus any cash moved."
    )


class Report(Model):
    """One built report: its content, rendered for a phone."""

    kind: ReportKind
    as_of: datetime
    day: date
    title: str
    markdown: str
    content: MorningBriefing | EndOfDaySummary | WeeklyReview


class SaveReportRequest(Model):
    workflow_id: WorkflowId = Field(description="One per schedule run: the save's idempotency key.")
    report: Report


class SaveReportResult(Model):
    report_id: int
    created: bool = Field(description="False when a retry or replay found the row already saved.")


class NotifyReportRequest(Model):
    workflow_id: WorkflowId
    report_id: int
    report: Report


class ReportResult(Model):
    kind: ReportKind
    as_of: datetime
    day: date
    status: Literal["reported", "skipped"]
    reason: str | None = Field(default=None, description='e.g. "market closed".')
    title: str | None = None
    report_id: int | None = None
    notification_id: int | None = None


# --- LatestReportsWorkflow: the saved reports, read back ---------------------------------


class LatestReportsInput(Model):
    kinds: list[ReportKind] = Field(
        default_factory=lambda: list(get_args(ReportKind)),
        min_length=1,
        max_length=len(get_args(ReportKind)),
        description="Which kinds (default: all three).",
    )


class SavedReport(Model):
    report_id: int
    workflow_id: str = Field(description="The run that built it.")
    kind: ReportKind
    as_of: datetime
    day: date
    title: str
    markdown: str
    created_at: datetime


class LatestReports(Model):
    reports: list[SavedReport] = Field(
        description="The newest saved report of each kind asked for that has one "
        "(a run skipped on a closed market saves none)."
    )
