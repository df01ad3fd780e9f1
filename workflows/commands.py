"""Command workflows: every read and write of what TTAI stores, one short workflow each.

A front end (starter.py, the MCP server, the `temporal` CLI, another app) reads or
changes stored data by running one of these to its end: a few activities, no
state of their own, a history of their own that never grows another workflow's.
The long-running workflows take signals, updates and queries only to steer and
report on themselves (workflows/monitors.py).

- AlertsWorkflow: add (the broker must list the symbol), list, remove alert rules;
- WatchlistWorkflow: list, show, add, remove watchlists;
- NotificationsWorkflow: list the outbox's rows, retry a dead letter;
- PortfolioWorkflow: positions with delta, days to expiry and P&L, and the
  balances, as the position sync stored them (or from the broker);
- LatestReportsWorkflow: the newest saved report of each kind.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.bounds import require_bounded_id

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from activities.notifications import NotificationActivities
    from activities.portfolio import PortfolioActivities
    from activities.reports import ReportActivities
    from activities.screener import ScreenerActivities
    from ttai.models.alerts import (
        ALERTS_WORKFLOW,
        AlertRule,
        AlertRuleSpec,
        AlertsCommand,
        AlertsCommandResult,
        ListAlertsInput,
        RemoveAlertInput,
    )
    from ttai.models.monitors import CreateAlertInput, SymbolsInput
    from ttai.models.notifications import (
        NOTIFICATIONS_WORKFLOW,
        NotificationsCommand,
        NotificationsCommandResult,
    )
    from ttai.models.portfolio import (
        PORTFOLIO_WORKFLOW,
        PortfolioRequest,
        PortfolioSnapshotRequest,
        PortfolioView,
    )
    from ttai.models.reports import LATEST_REPORTS_WORKFLOW, LatestReports, LatestReportsInput
    from ttai.models.screener import WATCHLIST_WORKFLOW, WatchlistCommand, WatchlistCommandResult
    from ttai.temporal.steps import run_step


@workflow.defn(name=ALERTS_WORKFLOW)
class AlertsWorkflow:
    @workflow.run
    async def run(self, command: AlertsCommand) -> AlertsCommandResult:
        require_bounded_id()  # a rule's request ID is this workflow's ID
        if command.action == "list":
            listed = await run_step(
                AlertActivities.list_alerts,
                ListAlertsInput(include_inactive=command.include_inactive),
            )
            return AlertsCommandResult(alerts=listed.alerts)
        if command.action == "remove":
            assert command.alert_id is not None  # the model requires it
            removed = await run_step(
                AlertActivities.remove_alert, RemoveAlertInput(alert_id=command.alert_id)
            )
            return AlertsCommandResult(removed=removed)
        assert command.rule is not None  # the model requires it
        return AlertsCommandResult(added=await self._add(command.rule))

    async def _add(self, rule: AlertRuleSpec) -> AlertRule:
        if rule.expires_at is not None and rule.expires_at <= workflow.now():
            raise ApplicationError(
                f"expires_at {rule.expires_at.isoformat()} is in the past",
                type="InvalidInput",
                non_retryable=True,
            )
        # An unknown symbol fails here (non-retryable UnknownSymbol): nothing is stored.
        await run_step(AlertActivities.check_symbols, SymbolsInput(symbols=[rule.symbol]))
        # Keyed by this workflow's ID: a retried insert, or the same command run
        # again under the same ID, stores one rule.
        create = CreateAlertInput(request_id=workflow.info().workflow_id, spec=rule)
        return await run_step(AlertActivities.create_alert, create)


@workflow.defn(name=WATCHLIST_WORKFLOW)
class WatchlistWorkflow:
    @workflow.run
    async def run(self, command: WatchlistCommand) -> WatchlistCommandResult:
        return await run_step(ScreenerActivities.watchlist_command, command)


@workflow.defn(name=NOTIFICATIONS_WORKFLOW)
class NotificationsWorkflow:
    @workflow.run
    async def run(self, command: NotificationsCommand) -> NotificationsCommandResult:
        return await run_step(NotificationActivities.notifications_command, command)


@workflow.defn(name=PORTFOLIO_WORKFLOW)
class PortfolioWorkflow:
    @workflow.run
    async def run(self, request: PortfolioRequest) -> PortfolioView:
        snapshot = PortfolioSnapshotRequest(source=request.source, now=workflow.now())
        return await run_step(PortfolioActivities.portfolio_snapshot, snapshot)


@workflow.defn(name=LATEST_REPORTS_WORKFLOW)
class LatestReportsWorkflow:
    @workflow.run
    async def run(self, request: LatestReportsInput) -> LatestReports:
        return await run_step(ReportActivities.latest_reports, request)


COMMAND_WORKFLOWS: list[type] = [
    AlertsWorkflow,
    WatchlistWorkflow,
    NotificationsWorkflow,
    PortfolioWorkflow,
    LatestReportsWorkflow,
]
