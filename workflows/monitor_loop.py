"""`MonitorLoop`: the check loop the three monitors share (workflows/monitors.py).

It owns the loop, the steering (pause / resume / check_now signals, a
validated set_interval update, the status query), market hours and
continue-as-new; each monitor only says how it checks. A loop iteration:

1. continue-as-new first when Temporal suggests it or the run made
   `max_iterations_per_run` checks, after every handler has finished, carrying
   `MonitorState` (counters, pause flag, interval, last prices, a pending
   check_now) so nothing steering did is lost;
2. one check activity when it is due and the market is open (or check_now);
   a failed check is logged, counted and shown in the status, and the loop goes on;
3. a durable timer until the next check (or the next open), woken early by
   any signal or update so steering acts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.bounds import require_bounded_id
from workflows.policies import CALENDAR_STEP

with workflow.unsafe.imports_passed_through():
    from activities.monitors import MonitorActivities
    from ttai.models.monitors import (
        CheckInput,
        MonitorInput,
        MonitorResult,
        MonitorState,
        MonitorStatus,
        SessionsInput,
        SetIntervalInput,
        StatusQuery,
        SteeringSignal,
    )
    from ttai.temporal.errors import root_cause

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

    default_interval: ClassVar[int]
    min_interval: ClassVar[int]
    # False: no checks while the market is closed (sleep until the open).
    # True: keep checking at `default_off_hours_interval` while closed.
    runs_off_hours: ClassVar[bool] = False
    default_off_hours_interval: ClassVar[int] = 0

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

    @workflow.signal(name="pause")
    def pause(self, signal: SteeringSignal = NO_INPUT) -> None:
        self._steer(paused=True)

    @workflow.signal(name="resume")
    def resume(self, signal: SteeringSignal = NO_INPUT) -> None:
        self._steer(paused=False)

    @workflow.signal(name="check_now")
    def check_now(self, signal: SteeringSignal = NO_INPUT) -> None:
        """One check at once, even while paused or outside market hours."""
        self._check_requested = True
        self._wake = True

    @workflow.update(name="set_interval")
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

    @workflow.query(name="status")
    def status(self, query: StatusQuery = NO_QUERY) -> MonitorStatus:
        return MonitorStatus(
            workflow_type=workflow.info().workflow_type,
            state=self._state.model_copy(update={"check_requested": self._check_requested}),
            market_open=self._market_open(workflow.now()),
            hours=self._request.hours,
            next_run_at=None if self._state.paused else self._sleep_until,
            run_iterations=self._run_iterations,
            history_length=workflow.info().get_current_history_length(),
        )

    # --- the loop ----------------------------------------------------------------------

    async def _check(self, request: CheckInput) -> str:
        """Run one check; update `self._state` with what it learned; return a summary."""
        raise NotImplementedError

    def _market_open(self, now: datetime) -> bool:
        return self._request.hours == "always" or any(
            w.open <= now < w.close for w in self._state.sessions
        )

    async def _refresh_calendar(self, now: datetime) -> None:
        hours = self._request.hours
        sessions = self._state.sessions
        if hours == "always" or (sessions and sessions[-1].close - now > CALENDAR_MARGIN):
            return
        try:
            result = await workflow.execute_local_activity_method(
                MonitorActivities.market_sessions,
                SessionsInput(
                    start=(now - timedelta(days=1)).date(), days=CALENDAR_DAYS, hours=hours
                ),
                **CALENDAR_STEP,
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
            summary = await self._check(request)
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
