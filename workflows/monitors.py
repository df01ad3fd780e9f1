"""The monitors: long-running check loops sharing one shape, `MonitorLoop`.

`MonitorLoop` owns the loop, the steering (pause / resume / check_now signals, a
validated set_interval update, the status query), market hours and
continue-as-new; each monitor only names its check activity and says what it
learned from a result. A loop iteration:

1. continue-as-new first when Temporal suggests it or the run made
   `max_iterations_per_run` checks, after every handler has finished, carrying
   `MonitorState` (counters, pause flag, interval, last prices, a pending
   check_now) so nothing steering did is lost;
2. one check activity when it is due and the market is open (or check_now);
   a failed check is logged, counted and shown in the status, and the loop goes on;
3. a durable timer until the next check (or the next open), woken early by
   any signal or update so steering acts at once.

The four monitors: portfolio (position rules), price alerts (price and IV-rank
rules), position sync, and the outbox (retries of deliveries a channel refused,
on its own clock, market or not).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.bounds import require_bounded_id

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from activities.calendar import CalendarActivities
    from activities.notifications import NotificationActivities
    from activities.portfolio import PortfolioActivities
    from ttai.models.alerts import (
        ADD_ALERT_UPDATE,
        LIST_ALERTS_UPDATE,
        REMOVE_ALERT_UPDATE,
        AddAlertInput,
        AlertList,
        AlertRule,
        ListAlertsInput,
        RemoveAlertInput,
        RemoveAlertResult,
    )
    from ttai.models.monitors import (
        CHECK_NOW_SIGNAL,
        MONITOR_TYPES,
        PAUSE_SIGNAL,
        RESUME_SIGNAL,
        SET_INTERVAL_UPDATE,
        STATUS_QUERY,
        CheckInput,
        CreateAlertInput,
        DeliveryResult,
        MonitorInput,
        MonitorResult,
        MonitorState,
        MonitorStatus,
        PortfolioCheckResult,
        PriceCheckResult,
        SessionsInput,
        SetIntervalInput,
        StatusQuery,
        SteeringSignal,
        SymbolsInput,
        SyncResult,
    )
    from ttai.temporal import root_cause
    from ttai.temporal.steps import run_step

# The market calendar comes from a local activity, fetched three weeks at a
# time and refreshed when less than four days are left (the longest NYSE
# closures are shorter).
CALENDAR_DAYS = 21
CALENDAR_MARGIN = timedelta(days=4)


# Signals and queries take an optional input: `temporal workflow signal --name
# pause` with no --input works, and the exported schemas still describe it.
NO_INPUT = SteeringSignal()
NO_QUERY = StatusQuery()


class MonitorLoop:
    """Base of the monitor workflows. Subclasses set the class constants and `_check`."""

    check: ClassVar[Callable[..., Any]]  # the check activity (a declared step)
    default_interval: ClassVar[int]
    min_interval: ClassVar[int]
    # False: no checks while the market is closed (sleep until the open).
    # True: keep checking at `default_off_hours_interval` while closed.
    runs_off_hours: ClassVar[bool] = False
    default_off_hours_interval: ClassVar[int] = 0
    # False: the market calendar means nothing to it (the outbox): always "open".
    follows_market: ClassVar[bool] = True

    @workflow.init
    def __init__(self, request: MonitorInput) -> None:
        self._request = request
        self._state = request.state or MonitorState(
            interval_seconds=request.interval_seconds or self.default_interval
        )
        self._check_requested = self._state.check_requested
        self._wake = False
        self._run_iterations = 0
        self._sleep_until: datetime | None = None

    # --- steering ----------------------------------------------------------------------

    def _steer(self, **changes: Any) -> None:
        self._state = self._state.model_copy(update=changes)
        self._wake = True

    @workflow.signal(name=PAUSE_SIGNAL)
    def pause(self, signal: SteeringSignal = NO_INPUT) -> None:
        self._steer(paused=True)

    @workflow.signal(name=RESUME_SIGNAL)
    def resume(self, signal: SteeringSignal = NO_INPUT) -> None:
        self._steer(paused=False)

    @workflow.signal(name=CHECK_NOW_SIGNAL)
    def check_now(self, signal: SteeringSignal = NO_INPUT) -> None:
        """One check at once, even while paused or outside market hours."""
        self._check_requested = True
        self._wake = True

    @workflow.update(name=SET_INTERVAL_UPDATE)
    def set_interval(self, request: SetIntervalInput) -> MonitorStatus:
        last = self._state.last_run_at
        due = last + timedelta(seconds=request.interval_seconds) if last else None
        self._steer(interval_seconds=request.interval_seconds, next_due_at=due)
        return self.status()

    @set_interval.validator
    def _validate_interval(self, request: SetIntervalInput) -> None:
        if request.interval_seconds < self.min_interval:
            raise ValueError(
                f"interval_seconds must be at least {self.min_interval} for this monitor"
            )

    @workflow.query(name=STATUS_QUERY)
    def status(self, query: StatusQuery = NO_QUERY) -> MonitorStatus:
        return MonitorStatus(
            workflow_type=workflow.info().workflow_type,
            state=self._state.model_copy(update={"check_requested": self._check_requested}),
            market_open=self._market_open(workflow.now()),
            # A monitor the market means nothing to runs at all hours.
            hours=self._request.hours if self.follows_market else "always",
            next_run_at=None if self._state.paused else self._sleep_until,
            run_iterations=self._run_iterations,
            history_length=workflow.info().get_current_history_length(),
        )

    # --- the loop ----------------------------------------------------------------------

    def _learn(self, result: Any) -> str:
        """Take in what a check found (counters, prices); return its one-line summary."""
        raise NotImplementedError

    def _count(self, fired: int) -> None:
        self._state = self._state.model_copy(update={"triggers": self._state.triggers + fired})

    def _market_open(self, now: datetime) -> bool:
        return (
            not self.follows_market
            or self._request.hours == "always"
            or any(w.open <= now < w.close for w in self._state.sessions)
        )

    async def _refresh_calendar(self, now: datetime) -> None:
        hours = self._request.hours
        sessions = self._state.sessions
        if not self.follows_market or hours == "always":
            return
        if sessions and sessions[-1].close - now > CALENDAR_MARGIN:
            return
        try:
            result = await run_step(
                CalendarActivities.market_sessions,
                SessionsInput(
                    start=(now - timedelta(days=1)).date(), days=CALENDAR_DAYS, hours=hours
                ),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("market calendar unavailable: %s", root_cause(err))
            return
        self._state = self._state.model_copy(
            update={"sessions": [w for w in result.windows if w.close > now]}
        )

    def _interval(self, now: datetime) -> timedelta:
        if self.runs_off_hours and not self._market_open(now):
            off_hours = self._request.off_hours_interval_seconds or self.default_off_hours_interval
            return timedelta(seconds=max(off_hours, self._state.interval_seconds))
        return timedelta(seconds=self._state.interval_seconds)

    def _wake_at(self, now: datetime) -> datetime:
        """When the next check is due, moved to the next open when the market is closed."""
        due = self._state.next_due_at or now
        if self._market_open(now):
            return due
        # No calendar (its activity failed): look again after one interval.
        opens = min(
            (w.open for w in self._state.sessions if w.open > now),
            default=now + timedelta(seconds=self._state.interval_seconds),
        )
        # Position sync keeps its slow pace but also runs at the open; the others wait.
        return min(due, opens) if self.runs_off_hours else max(due, opens)

    async def _run_check(self, now: datetime) -> None:
        info = workflow.info()
        self._run_iterations += 1
        request = CheckInput(
            check_key=f"{info.workflow_id}:{info.run_id}:{self._run_iterations}",
            as_of=now,
            previous_prices=self._state.last_prices,
        )
        changes: dict[str, Any] = {}
        try:
            summary = self._learn(await run_step(type(self).check, request))
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            cause = str(root_cause(err))
            workflow.logger.warning("check failed: %s", cause)
            changes = {
                "errors": self._state.errors + 1,
                "last_error": cause[:500],
                "last_error_at": now,
            }
        else:
            changes["last_summary"] = summary
            workflow.set_current_details(summary)
        # After the check: a set_interval that arrived during it counts already.
        changes |= {
            "iterations": self._state.iterations + 1,
            "last_run_at": now,
            "next_due_at": now + self._interval(now),
        }
        self._state = self._state.model_copy(update=changes)

    def _continue_as_new_due(self) -> bool:
        return (
            self._run_iterations >= self._request.max_iterations_per_run
            or workflow.info().is_continue_as_new_suggested()
        )

    async def _loop(self) -> MonitorResult:
        require_bounded_id()  # check keys are `<ID>:<run ID>:<iteration>`
        if self._state.interval_seconds < self.min_interval:
            raise ApplicationError(
                f"interval_seconds must be at least {self.min_interval} for this monitor",
                type="InvalidInput",
                non_retryable=True,
            )
        try:
            while True:
                if self._continue_as_new_due():
                    # Let running updates (add_alert ...) finish; their effects are in state.
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    state = self._state.model_copy(
                        update={
                            "runs": self._state.runs + 1,
                            "check_requested": self._check_requested,
                        }
                    )
                    workflow.continue_as_new(self._request.model_copy(update={"state": state}))
                self._wake = False
                await self._refresh_calendar(workflow.now())
                now = workflow.now()
                due = self._state.next_due_at is None or now >= self._state.next_due_at
                in_hours = self.runs_off_hours or self._market_open(now)
                if self._check_requested or (not self._state.paused and due and in_hours):
                    self._check_requested = False
                    await self._run_check(now)
                await self._sleep()
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancelled_exception(err):
                raise
            # Stopped (cancelled): complete with the final state for the record.
            return MonitorResult(state=self._state, stopped_at=workflow.now())

    async def _sleep(self) -> None:
        if self._wake:
            return  # steering arrived during the check: act on it first
        now = workflow.now()
        self._sleep_until = None if self._state.paused else max(self._wake_at(now), now)
        timeout = None if self._sleep_until is None else self._sleep_until - now
        with contextlib.suppress(TimeoutError):  # the timer fired: time for the next check
            await workflow.wait_condition(lambda: self._wake, timeout=timeout)


# list_alerts, like the loop's signals and query, works with no --input.
ALL_ACTIVE = ListAlertsInput()

# The add_alert request ID is `<workflow ID>:<update ID>` (at most 300 characters).
MAX_UPDATE_ID_LENGTH = 99


@workflow.defn(name=MONITOR_TYPES["monitor-portfolio"])
class PortfolioMonitorWorkflow(MonitorLoop):
    """Positions against the position rules (delta, days to expiry), while the market is open."""

    check = AlertActivities.check_portfolio
    default_interval = 60
    min_interval = 10

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    def _learn(self, result: PortfolioCheckResult) -> str:
        self._count(len(result.triggers))
        return (
            f"{result.positions} positions, {result.rules_evaluated} rules, "
            f"{len(result.triggers)} fired"
        )


@workflow.defn(name=MONITOR_TYPES["monitor-price-alerts"])
class PriceAlertMonitorWorkflow(MonitorLoop):
    """Price and IV-rank alerts, one batched quote call per check (rules: AlertsWorkflow)."""

    check = AlertActivities.check_price_alerts
    default_interval = 30
    min_interval = 5

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    def _learn(self, result: PriceCheckResult) -> str:
        self._count(len(result.triggers))
        # Kept for the next check's crossing test; only symbols with rules.
        self._state = self._state.model_copy(update={"last_prices": result.prices})
        return (
            f"{result.rules_evaluated} rules on {len(result.prices)} symbols, "
            f"{len(result.triggers)} fired"
        )

    # The rule updates below are kept so running monitors replay and apps that call
    # them keep working; TTAI's front ends read and write rules through AlertsWorkflow
    # (workflows/commands.py), so no read grows this long-running history.

    async def _rule_step(self, step: Callable[..., Any], request: Any, failure: str) -> Any:
        """An activity behind an update: its failure fails the update, not the monitor."""
        try:
            return await run_step(step, request)
        except ActivityError as err:
            raise ApplicationError(f"{failure}{root_cause(err)}", type="InvalidAlert") from err
        finally:
            # Updates grow the history too: let the loop follow the suggestion now.
            if workflow.info().is_continue_as_new_suggested():
                self._wake = True

    @workflow.update(name=ADD_ALERT_UPDATE)
    async def add_alert(self, request: AddAlertInput) -> AlertRule:
        symbols = SymbolsInput(symbols=[request.rule.symbol])
        await self._rule_step(AlertActivities.check_symbols, symbols, "alert rejected: ")
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        create = CreateAlertInput(
            request_id=f"{workflow.info().workflow_id}:{update_id}", spec=request.rule
        )
        return await self._rule_step(AlertActivities.create_alert, create, "")

    @add_alert.validator
    def _validate_add_alert(self, request: AddAlertInput) -> None:
        # The model checked fields and combinations already, while decoding.
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        if len(update_id) > MAX_UPDATE_ID_LENGTH:
            raise ValueError(f"update ID is longer than {MAX_UPDATE_ID_LENGTH} characters")
        expires = request.rule.expires_at
        if expires is not None and expires <= workflow.now():
            raise ValueError(f"expires_at {expires.isoformat()} is in the past")

    @workflow.update(name=REMOVE_ALERT_UPDATE)
    async def remove_alert(self, request: RemoveAlertInput) -> RemoveAlertResult:
        return await self._rule_step(AlertActivities.remove_alert, request, "")

    @workflow.update(name=LIST_ALERTS_UPDATE)
    async def list_alerts(self, request: ListAlertsInput = ALL_ACTIVE) -> AlertList:
        return await self._rule_step(AlertActivities.list_alerts, request, "")


@workflow.defn(name=MONITOR_TYPES["monitor-position-sync"])
class PositionSyncWorkflow(MonitorLoop):
    """Broker positions into PostgreSQL; every 5 min while open, every 30 min while closed."""

    check = PortfolioActivities.sync_positions
    default_interval = 300
    min_interval = 30
    runs_off_hours = True
    default_off_hours_interval = 1800

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    def _learn(self, result: SyncResult) -> str:
        self._count(len(result.opened) + len(result.closed))
        return (
            f"{result.open_positions} open; opened {len(result.opened)}, "
            f"changed {len(result.changed)}, closed {len(result.closed)}"
        )


@workflow.defn(name=MONITOR_TYPES["monitor-outbox"])
class OutboxMonitorWorkflow(MonitorLoop):
    """Retries what a channel refused: every due outbox row, around the clock.

    A notification's first attempt is made by the step that queued it; a channel
    that refused it backs the row off (the outbox's per-row schedule), and this
    loop is the owner of every later attempt."""

    check = NotificationActivities.deliver_notifications
    default_interval = 30
    min_interval = 5
    runs_off_hours = True
    default_off_hours_interval = 30
    follows_market = False

    @workflow.run
    async def run(self, request: MonitorInput) -> MonitorResult:
        return await self._loop()

    def _learn(self, result: DeliveryResult) -> str:
        self._count(result.delivered)
        return f"delivered {result.delivered}, refused {result.failed}, dead {result.dead}"


MONITOR_WORKFLOWS: list[type] = [
    PortfolioMonitorWorkflow,
    PriceAlertMonitorWorkflow,
    PositionSyncWorkflow,
    OutboxMonitorWorkflow,
]
