"""WatchlistWorkflow: list/show/add/remove watchlists, so watchlists are managed
through Temporal like everything else (one activity, no state of its own).
The screener resolves a watchlist by name through the same store."""

from __future__ import annotations

from temporalio import workflow

from workflows.policies import DURABLE_STEP

with workflow.unsafe.imports_passed_through():
    from activities.screener import ScreenerActivities
    from ttai.models.screener import WatchlistCommand, WatchlistCommandResult


@workflow.defn(name="WatchlistWorkflow")
class WatchlistWorkflow:
    @workflow.run
    async def run(self, command: WatchlistCommand) -> WatchlistCommandResult:
        return await workflow.execute_activity_method(
            ScreenerActivities.watchlist_command, command, **DURABLE_STEP
        )
