"""The three monitors: long-running check loops sharing one shape.

The loop, steering, market hours and continue-as-new live in `MonitorLoop`
(workflows/monitor_loop.py); each monitor here only says how it checks, and
the price monitor also manages the alert rules through updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.monitor_loop import MonitorLoop
from workflows.policies import CHECK_STEP, UPDATE_STEP, on_lane, queue_of

with workflow.unsafe.imports_passed_through():
    from activities.monitors import MonitorActivities
    from ttai.models.alerts import (
        AddAlertInput,
        AlertList,
        AlertRule,
        ListAlertsInput,
        RemoveAlertInput,
        RemoveAlertResult,
    )
    from ttai.models.monitors import (
        CheckInput,
        CreateAlertInput,
        MonitorInput,
        MonitorResult,
        SymbolsInput,
    )
    from ttai.temporal.errors import root_cause
    from ttai.temporal.lanes import LIVE

# list_alerts, like the loop's signals and query, works with no --input.
ALL_ACTIVE = ListAlertsInput()

# The add_alert request ID is `<workflow ID>:<update ID>` (at most 300 characters).
MAX_UPDATE_ID_LENGTH = 99


@workflow.defn(name="PortfolioMonitorWorkflow")
class PortfolioMonitorWorkflow(MonitorLoop):
    """Positions against the position rules (delta, days to expiry), while the market is open."""

    default_interval = 60
    min_interval = 10

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    async def _check(self, request: CheckInput) -> str:
        result = await workflow.execute_activity_method(
            MonitorActivities.check_portfolio, request, **CHECK_STEP, **on_lane(LIVE)
        )
        self._state = self._state.model_copy(
            update={"triggers": self._state.triggers + len(result.triggers)}
        )
        return (
            f"{result.positions} positions, {result.rules_evaluated} rules, "
            f"{len(result.triggers)} fired"
        )


@workflow.defn(name="PriceAlertMonitorWorkflow")
class PriceAlertMonitorWorkflow(MonitorLoop):
    """Price and IV-rank alerts, one batched quote call per check; manages the rules."""

    default_interval = 30
    min_interval = 5

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    async def _check(self, request: CheckInput) -> str:
        result = await workflow.execute_activity_method(
            MonitorActivities.check_price_alerts, request, **CHECK_STEP, **on_lane(LIVE)
        )
        self._state = self._state.model_copy(
            update={
                "triggers": self._state.triggers + len(result.triggers),
                # Kept for the next check's crossing test; only symbols with rules.
                "last_prices": result.prices,
            }
        )
        return (
            f"{result.rules_evaluated} rules on {len(result.prices)} symbols, "
            f"{len(result.triggers)} fired"
        )

    async def _rule_step(self, step: Callable[..., Any], request: Any, failure: str) -> Any:
        """An activity behind an update: its failure fails the update, not the monitor."""
        try:
            # The symbol check reads the broker: it runs on the live lane, like the checks.
            return await workflow.execute_activity_method(
                step, request, **UPDATE_STEP, **queue_of(step)
            )
        except ActivityError as err:
            raise ApplicationError(f"{failure}{root_cause(err)}", type="InvalidAlert") from err
        finally:
            # Updates grow the history too: let the loop follow the suggestion now.
            if workflow.info().is_continue_as_new_suggested():
                self._wake = True

    @workflow.update(name="add_alert")
    async def add_alert(self, request: AddAlertInput) -> AlertRule:
        symbols = SymbolsInput(symbols=[request.rule.symbol])
        await self._rule_step(MonitorActivities.check_symbols, symbols, "alert rejected: ")
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        create = CreateAlertInput(
            request_id=f"{workflow.info().workflow_id}:{update_id}", spec=request.rule
        )
        return await self._rule_step(MonitorActivities.create_alert, create, "")

    @add_alert.validator
    def _validate_add_alert(self, request: AddAlertInput) -> None:
        # The model checked fields and combinations already, while decoding.
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        if len(update_id) > MAX_UPDATE_ID_LENGTH:
            raise ValueError(f"update ID is longer than {MAX_UPDATE_ID_LENGTH} characters")
        expires = request.rule.expires_at
        if expires is not None and expires <= workflow.now():
            raise ValueError(f"expires_at {expires.isoformat()} is in the past")

    @workflow.update(name="remove_alert")
    async def remove_alert(self, request: RemoveAlertInput) -> RemoveAlertResult:
        return await self._rule_step(MonitorActivities.remove_alert, request, "")

    @workflow.update(name="list_alerts")
    async def list_alerts(self, request: ListAlertsInput = ALL_ACTIVE) -> AlertList:
        return await self._rule_step(MonitorActivities.list_alerts, request, "")


@workflow.defn(name="PositionSyncWorkflow")
class PositionSyncWorkflow(MonitorLoop):
    """Broker positions into PostgreSQL; every 5 min while open, every 30 min while closed."""

    default_interval = 300
    min_interval = 30
    runs_off_hours = True
    default_off_hours_interval = 1800

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    async def _check(self, request: CheckInput) -> str:
        result = await workflow.execute_activity_method(
            MonitorActivities.sync_positions, request, **CHECK_STEP, **on_lane(LIVE)
        )
        self._state = self._state.model_copy(
            update={"triggers": self._state.triggers + len(result.opened) + len(result.closed)}
        )
        return (
            f"{result.open_positions} open; opened {len(result.opened)}, "
            f"changed {len(result.changed)}, closed {len(result.closed)}"
        )


MONITOR_WORKFLOWS: list[type] = [
    PortfolioMonitorWorkflow,
    PriceAlertMonitorWorkflow,
    PositionSyncWorkflow,
]
