"""Fake screener activities with the real names, for workflow tests and the recorder.

`FakeScreenerActivities` serves watchlists from a dict and records saves and
notifications; `TimedAnalysis` records when each symbol's analysis starts and
ends and can hold chosen symbols until released, so a test can see the bound
on concurrency and cancel mid-screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from tests.helpers.analysis_fakes import FakeAnalysisActivities
from ttai.models.analysis import (
    ChartAnalysis,
    SaveAnalysisRequest,
    SaveAnalysisResult,
    SymbolRequest,
)
from ttai.models.notifications import NotifyResult
from ttai.models.screener import (
    SaveScreenResult,
    ScreenRecord,
    ScreenResult,
    WatchlistCommand,
    WatchlistCommandResult,
    WatchlistRequest,
    WatchlistSymbols,
)


class FakeScreenerActivities:
    def __init__(self, watchlists: dict[str, list[str]] | None = None) -> None:
        self.watchlists = watchlists or {}
        self.saved: dict[tuple[str, str], ScreenResult] = {}
        self.notified: list[ScreenResult] = []

    @activity.defn(name="resolve_watchlist")
    async def resolve_watchlist(self, request: WatchlistRequest) -> WatchlistSymbols:
        if request.name not in self.watchlists:
            raise ApplicationError(
                f"no watchlist named {request.name!r}", type="WatchlistNotFound", non_retryable=True
            )
        return WatchlistSymbols(name=request.name, symbols=self.watchlists[request.name])

    @activity.defn(name="watchlist_command")
    async def watchlist_command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        raise NotImplementedError

    @activity.defn(name="save_screen")
    async def save_screen(self, request: ScreenRecord) -> SaveScreenResult:
        key = (request.workflow_id, request.run_id)
        created = key not in self.saved
        self.saved.setdefault(key, request.result)
        return SaveScreenResult(screen_row_id=len(self.saved), created=created)

    @activity.defn(name="notify_screen")
    async def notify_screen(self, request: ScreenRecord) -> NotifyResult:
        self.notified.append(request.result)
        return NotifyResult(notification_id=len(self.notified), delivered=True, duplicate=False)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.resolve_watchlist,
            self.watchlist_command,
            self.save_screen,
            self.notify_screen,
        ]


class TimedAnalysis(FakeAnalysisActivities):
    """Records when each symbol's analysis starts (chart) and ends (save); the
    chart step of `blocked` symbols waits until `release` is set."""

    def __init__(self, blocked: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocked = blocked
        self.release = asyncio.Event()
        self.events: list[tuple[str, str]] = []

    @activity.defn(name="chart_analysis")
    async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis:
        self.events.append(("start", request.symbol))
        if request.symbol in self.blocked:
            await self.release.wait()
        # Long enough for the screen to start its other children meanwhile.
        await asyncio.sleep(0.02)
        return await super().chart_analysis(request)

    @activity.defn(name="save_analysis")
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveAnalysisResult:
        saved = await super().save_analysis(request)
        self.events.append(("end", request.result.symbol))
        return saved
