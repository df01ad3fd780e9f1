"""Fake screener activities with the real names, for workflow tests and the recorder.

`FakeScreenerActivities` serves watchlists from a dict, plans screens as told
and records saves and notifications; `TimedAnalysis` records when each
symbol's analysis starts and ends and can hold chosen symbols until released,
so a test can see the bound on concurrency and cancel mid-screen.
`symbol_events` reads the same starts and ends from a screen's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.screener import ScreenerActivities
from tests.helpers.analysis_fakes import FakeAnalysisActivities, FakeReads
from ttai.models.analysis import AnalysisResult, ChartAnalysis, SaveAnalysisResult
from ttai.models.notifications import NotifyResult
from ttai.models.screen_steps import ScreenPlan, ScreenPlanRequest
from ttai.models.screener import (
    SaveScreenResult,
    ScreenRecord,
    ScreenResult,
    WatchlistCommand,
    WatchlistCommandResult,
    WatchlistRequest,
    WatchlistSymbols,
)
from ttai.temporal.steps import same_step_as, steps_of


class FakeScreenerActivities:
    """`symbols_per_activity`: the plan the worker gives screens (1, as under a
    rate budget; more, as without one)."""

    def __init__(
        self, watchlists: dict[str, list[str]] | None = None, symbols_per_activity: int = 10
    ) -> None:
        self.watchlists = watchlists or {}
        self.plan = ScreenPlan(symbols_per_activity=symbols_per_activity)
        self.saved: dict[tuple[str, str], ScreenResult] = {}
        self.notified: list[ScreenResult] = []

    @same_step_as(ScreenerActivities.screen_plan)
    async def screen_plan(self, request: ScreenPlanRequest) -> ScreenPlan:
        return self.plan

    @same_step_as(ScreenerActivities.resolve_watchlist)
    async def resolve_watchlist(self, request: WatchlistRequest) -> WatchlistSymbols:
        if request.name not in self.watchlists:
            raise ApplicationError(
                f"no watchlist named {request.name!r}", type="WatchlistNotFound", non_retryable=True
            )
        return WatchlistSymbols(name=request.name, symbols=self.watchlists[request.name])

    @same_step_as(ScreenerActivities.watchlist_command)
    async def watchlist_command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        raise NotImplementedError

    @same_step_as(ScreenerActivities.save_screen)
    async def save_screen(self, request: ScreenRecord) -> SaveScreenResult:
        key = (request.workflow_id, request.run_id)
        created = key not in self.saved
        self.saved.setdefault(key, request.result)
        return SaveScreenResult(screen_row_id=len(self.saved), created=created)

    @same_step_as(ScreenerActivities.notify_screen)
    async def notify_screen(self, request: ScreenRecord) -> NotifyResult:
        self.notified.append(request.result)
        return NotifyResult(notification_id=len(self.notified), delivered=True, duplicate=False)

    def all(self) -> list[Callable[..., Any]]:
        return steps_of(self)


class TimedReads(FakeReads):
    """The chart step records the start of a symbol's analysis and, for a
    `blocked` symbol, waits until `release` is set."""

    _owner: TimedAnalysis

    async def chart(self, symbol: str) -> ChartAnalysis:
        owner = self._owner
        owner.events.append(("start", symbol))
        if symbol in owner.blocked:
            await owner.release.wait()
        # Long enough for the screen to start its other children meanwhile.
        await asyncio.sleep(0.02)
        return await super().chart(symbol)


class TimedAnalysis(FakeAnalysisActivities):
    """Records when each symbol's analysis starts (chart) and ends (save); the
    chart step of `blocked` symbols waits until `release` is set."""

    def __init__(self, blocked: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reads = TimedReads(self)
        self.blocked = blocked
        self.release = asyncio.Event()
        self.events: list[tuple[str, str]] = []

    async def save(
        self, workflow_id: str, run_id: str, result: AnalysisResult, screen_id: str | None
    ) -> SaveAnalysisResult:
        saved = await super().save(workflow_id, run_id, result, screen_id)
        self.events.append(("end", result.symbol))
        return saved


def max_in_flight(events: list[tuple[str, str]]) -> int:
    running = peak = 0
    for kind, _ in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    return peak


DESIGNS = pytest.mark.parametrize("children", [False, True], ids=["activities", "children"])


async def symbol_events(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, str]]:
    """('start', key) / ('end', key) in the screen's own history, for each
    symbol's activity (key: the activity ID, the symbol) or child workflow
    (key: the child's workflow ID)."""
    activities: dict[int, str] = {}
    out: list[tuple[str, str]] = []
    async for event in handle.fetch_history_events():
        kind = event.WhichOneof("attributes") or ""
        attrs = getattr(event, kind) if kind else None
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if attrs.activity_type.name in ("screen_symbol", "screen_symbols"):
                activities[event.event_id] = attrs.activity_id
                out.append(("start", attrs.activity_id))
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            out.append(("start", attrs.workflow_id))
        elif kind.startswith("activity_task_") and kind.split("_")[2] in (
            "completed", "failed", "canceled", "timed",
        ):  # fmt: skip
            if attrs.scheduled_event_id in activities:
                out.append(("end", activities[attrs.scheduled_event_id]))
        elif kind.startswith("child_workflow_execution_") and not kind.endswith(
            "started_event_attributes"
        ):
            out.append(("end", attrs.workflow_execution.workflow_id))
    return out
