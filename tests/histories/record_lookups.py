"""Re-record PortfolioWorkflow's and LatestReportsWorkflow's replay histories
(on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_lookups

Runs each case on a throw-away dev server with the real workflow code and fake
`portfolio_snapshot` / `latest_reports` activities, and writes
tests/histories/<Workflow>-<case>.json for tests/replay/test_replay.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from activities.portfolio import PortfolioActivities
from activities.reports import ReportActivities
from tests.helpers.histories import record_cases
from tests.helpers.portfolio import BALANCES, SHORT_PUT
from ttai.domain.analytics.pnl import DayTrades
from ttai.domain.market_calendar import new_york_date, previous_session
from ttai.domain.portfolio import portfolio_view
from ttai.models.portfolio import PortfolioRequest, PortfolioSnapshotRequest, PortfolioView
from ttai.models.reports import LatestReports, LatestReportsInput, SavedReport
from ttai.temporal.steps import same_step_as

TASK_QUEUE = "record-lookups"
AT = datetime(2026, 11, 30, 15, tzinfo=UTC)


@same_step_as(PortfolioActivities.portfolio_snapshot)
async def fake_portfolio(request: PortfolioSnapshotRequest) -> PortfolioView:
    return portfolio_view(
        [SHORT_PUT],
        [BALANCES],
        source=request.source,
        as_of=AT,
        now=request.now,
        trades=DayTrades(since=previous_session(new_york_date(AT)).close),
    )


@same_step_as(ReportActivities.latest_reports)
async def fake_latest(request: LatestReportsInput) -> LatestReports:
    report = SavedReport(
        report_id=1, workflow_id="report-end-of-day-2026-11-30T21:00:00Z", kind="end_of_day",
        as_of=AT, day=AT.date(), title="End-of-day summary 2026-11-30", markdown="**Day P&L**",
        created_at=AT,
    )  # fmt: skip
    return LatestReports(reports=[r for r in [report] if r.kind in request.kinds])


if __name__ == "__main__":
    record_cases(
        TASK_QUEUE,
        [fake_portfolio, fake_latest],
        {
            "PortfolioWorkflow-sync": ("PortfolioWorkflow", PortfolioRequest()),
            "LatestReportsWorkflow-all": ("LatestReportsWorkflow", LatestReportsInput()),
        },
    )
