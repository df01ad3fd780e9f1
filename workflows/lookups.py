"""Read-only lookups through Temporal, so a client needs nothing but a Temporal
client (like WatchlistWorkflow): one activity each, no state of their own.

- PortfolioWorkflow: positions with delta, days to expiry and P&L, and the
  balances, as the position sync stored them (or from the broker).
- LatestReportsWorkflow: the newest saved report of each kind.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.policies import READ_STEP, queue_of

with workflow.unsafe.imports_passed_through():
    from activities.portfolio import PortfolioActivities
    from activities.reports import ReportActivities
    from ttai.models.portfolio import PortfolioRequest, PortfolioSnapshotRequest, PortfolioView
    from ttai.models.reports import LatestReports, LatestReportsInput


@workflow.defn(name="PortfolioWorkflow")
class PortfolioWorkflow:
    @workflow.run
    async def run(self, request: PortfolioRequest) -> PortfolioView:
        return await workflow.execute_activity_method(
            PortfolioActivities.portfolio,
            PortfolioSnapshotRequest(source=request.source, now=workflow.now()),
            **READ_STEP,
            # It may read the broker: on the live lane, under its budget.
            **queue_of(PortfolioActivities.portfolio),
        )


@workflow.defn(name="LatestReportsWorkflow")
class LatestReportsWorkflow:
    @workflow.run
    async def run(self, request: LatestReportsInput) -> LatestReports:
        return await workflow.execute_activity_method(
            ReportActivities.latest_reports, request, **READ_STEP
        )


LOOKUP_WORKFLOWS: list[type] = [PortfolioWorkflow, LatestReportsWorkflow]
