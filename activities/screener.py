"""Screen and watchlist steps: resolve a watchlist, save and announce a screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.exceptions import ApplicationError

from activities.errors import classified_errors
from ttai.db.screens import ScreenStore
from ttai.db.watchlists import WatchlistStore
from ttai.models.notifications import NotifyResult
from ttai.models.screen_steps import MAX_SYMBOLS_PER_ACTIVITY, ScreenPlan, ScreenPlanRequest
from ttai.models.screener import (
    SaveScreenResult,
    ScreenRecord,
    WatchlistCommand,
    WatchlistCommandResult,
    WatchlistRequest,
    WatchlistSymbols,
    check_screenable,
)
from ttai.notify.messages import screen_notification
from ttai.notify.outbox import Outbox
from ttai.telemetry.metrics import count
from ttai.temporal.steps import COMPUTE, DURABLE, step


def _not_found(name: str) -> ApplicationError:
    return ApplicationError(
        f"no watchlist named {name!r}", type="WatchlistNotFound", non_retryable=True
    )


SYMBOLS_PER_ACTIVITY_WITHOUT_BUDGET = 10
"""Most symbols per analysis activity when the bulk broker lane has no rate
budget (the simulated market). Measured with bench/screener.py: at
max_concurrent 5, batches of 10 take a 500-symbol screen from 2.2-2.6x to
1.1-1.3x the in-process run (an activity task and a workflow task per 10
symbols instead of per symbol). See workflows/screener.py."""


class ScreenerActivities:
    """`builtin` watchlists (`sp500`, the real constituents) are created on first
    use when missing; a user's edits to them are kept. `budgeted`: the bulk
    broker lane has a rate limit, so each analysis activity takes one symbol
    (the limit then counts symbols)."""

    def __init__(
        self,
        watchlists: WatchlistStore,
        screens: ScreenStore,
        outbox: Outbox,
        builtin: Mapping[str, Sequence[str]] | None = None,
        *,
        budgeted: bool = False,
    ) -> None:
        self._watchlists = watchlists
        self._screens = screens
        self._outbox = outbox
        self._builtin = dict(builtin or {})
        self._seeded = False
        self._plan = ScreenPlan(
            symbols_per_activity=1
            if budgeted
            else min(SYMBOLS_PER_ACTIVITY_WITHOUT_BUDGET, MAX_SYMBOLS_PER_ACTIVITY)
        )

    @step(COMPUTE)
    async def screen_plan(self, request: ScreenPlanRequest) -> ScreenPlan:
        """How this deployment runs a screen's symbols (a local activity: its
        answer is recorded, so a replay follows it whatever the configuration)."""
        return self._plan

    async def _seed(self) -> None:
        if not self._seeded:
            for name, symbols in self._builtin.items():
                await self._watchlists.seed(name, symbols)
            self._seeded = True

    @step(DURABLE)
    async def resolve_watchlist(self, request: WatchlistRequest) -> WatchlistSymbols:
        # Bad stored data (an empty or oversized list, an invalid symbol) is
        # InvalidInput: retrying cannot fix it.
        with classified_errors():
            await self._seed()
            symbols = await self._watchlists.symbols(request.name)
            if symbols is None:
                raise _not_found(request.name)
            check_screenable(request.name, symbols)
            return WatchlistSymbols(name=request.name, symbols=symbols)

    @step(DURABLE)
    async def watchlist_command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        with classified_errors():  # WatchlistTooLarge is a ValueError: InvalidInput
            await self._seed()
            return await self._command(request)

    async def _command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        name = request.name
        if request.action == "list":
            return WatchlistCommandResult(watchlists=await self._watchlists.list())
        assert name is not None  # the model requires it for every other action
        if request.action == "show":
            symbols = await self._watchlists.symbols(name)
            if symbols is None:
                raise _not_found(name)
            return WatchlistCommandResult(symbols=symbols)
        if request.action == "add":
            added, symbols = await self._watchlists.add(name, request.symbols)
            return WatchlistCommandResult(symbols=symbols, changed=added)
        if not request.symbols:
            if not await self._watchlists.delete(name):
                raise _not_found(name)
            return WatchlistCommandResult(deleted=True)
        removed = await self._watchlists.remove(name, request.symbols)
        if removed is None:
            raise _not_found(name)
        return WatchlistCommandResult(symbols=removed[1], changed=removed[0])

    @step(DURABLE)
    async def save_screen(self, request: ScreenRecord) -> SaveScreenResult:
        saved = await self._screens.save(request.workflow_id, request.run_id, request.result)
        if saved.created:
            count("ttai_screens_total", status=request.result.status)
        return saved

    @step(DURABLE)
    async def notify_screen(self, request: ScreenRecord) -> NotifyResult:
        notification = screen_notification(request.workflow_id, request.run_id, request.result)
        return await self._outbox.publish(notification)
