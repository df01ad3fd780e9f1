"""ScreenerWorkflow: a bounded fan-out over symbols, ranked, saved.

Watchlists it screens by name are managed by WatchlistWorkflow (workflows/watchlists.py).

This module is the orchestration: resolve the symbols, run at most
max_concurrent analyses at a time, keep what finished across continue-as-new,
rank and save. How one symbol (or a batch) is analysed is a design of its own:
- `screen_activities`: in activities (the default; batches when the bulk
  broker lane has no rate budget, one symbol each when it has one);
- `screen_children`: one child AnalysisWorkflow per symbol
  (`per_symbol_workflows=True`, off by default). Screens started before
  activities replay on that path (no `screen-symbol-activities` patch marker).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError, is_cancelled_exception

from workflows.bounds import require_bounded_id
from workflows.policies import DURABLE_STEP
from workflows.screen_activities import (
    SYMBOLS_PER_RUN,
    analyse_batch,
    analyse_in_activity,
    batches,
    screen_cancelling,
    symbol_failure,
)
from workflows.screen_children import SYMBOLS_PER_RUN_CHILDREN, analyse_in_child

with workflow.unsafe.imports_passed_through():
    from activities.screener import ScreenerActivities
    from ttai.domain.analytics.ranking import rank
    from ttai.models.common import MAX_SCREEN_ID_LENGTH
    from ttai.models.screener import (
        ScreenEntry,
        ScreenFailure,
        ScreenInput,
        ScreenProgress,
        ScreenRecord,
        ScreenResult,
        ScreenResultStatus,
        ScreenState,
        ScreenStatus,
        WatchlistRequest,
    )
    from ttai.temporal import search_attributes

ACTIVITY_DESIGN = "screen-symbol-activities"
"""Patch ID: set in every screen started since symbols became activities."""


@workflow.defn(name="ScreenerWorkflow")
class ScreenerWorkflow:
    def __init__(self) -> None:
        self._status: ScreenStatus = "resolving"
        self._request: ScreenInput | None = None
        self._symbols: list[str] = []
        self._entries: dict[str, ScreenEntry] = {}
        self._failures: dict[str, ScreenFailure] = {}
        self._running = 0
        self._runs = 1
        self._started_at = workflow.now()  # replaced by the first run's start on resume
        self._stop_starting = False
        self._final: ScreenResult | None = None
        self._children = True  # set per run: child workflows or activities per symbol

    @workflow.query(name="progress")
    def progress(self) -> ScreenProgress:
        return ScreenProgress(
            status=self._status,
            total=len(self._symbols),
            done=len(self._entries) + len(self._failures),
            failed=len(self._failures),
            running=self._running,
            elapsed_seconds=(workflow.now() - self._started_at).total_seconds(),
            started_at=self._started_at,
            runs=self._runs,
        )

    @workflow.query(name="result_so_far")
    def result_so_far(self) -> ScreenResult:
        """Ranked from what has finished so far; once ended, what was saved."""
        assert self._request is not None
        return self._final or self._result(self._request, "running")

    def _report(self) -> None:
        p = self.progress()
        workflow.set_current_details(
            f"{p.status}: {p.done}/{p.total} done, {p.failed} failed, {p.running} running"
        )

    @workflow.run
    async def run(self, request: ScreenInput) -> ScreenResult:
        require_bounded_id(MAX_SCREEN_ID_LENGTH)  # analysis keys (children) are `<ID>/<symbol>`
        self._request = request
        # Screens started before the activity design (no patch marker) replay as
        # they ran: one child per symbol.
        self._children = request.per_symbol_workflows or not workflow.patched(ACTIVITY_DESIGN)
        per_run = SYMBOLS_PER_RUN_CHILDREN if self._children else SYMBOLS_PER_RUN
        try:
            if request.resume is not None:
                self._restore(request.resume)
            else:
                workflow.upsert_search_attributes(
                    [search_attributes.STRATEGY.value_set(request.strategy)]
                )
                self._report()
                self._symbols = await self._resolve(request)
            self._status = "running"
            self._report()
            finished = self._entries.keys() | self._failures.keys()
            pending = [s for s in self._symbols if s not in finished][:per_run]
            groups = [[s] for s in pending] if self._children else await batches(pending, request)
            slots = asyncio.Semaphore(request.max_concurrent)
            await asyncio.gather(*(self._analyse(group, request, slots) for group in groups))
            if len(self._entries) + len(self._failures) < len(self._symbols):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(request.model_copy(update={"resume": self._state()}))
            return await self._finish(request, "completed")
        except asyncio.CancelledError:
            # Each running child was asked to cancel when its task was; gather
            # gives up on them at once, so wait for them to end, then save
            # what finished and end as cancelled.
            await workflow.wait_condition(lambda: self._running == 0)
            await self._finish(request, "cancelled")
            raise

    async def _resolve(self, request: ScreenInput) -> list[str]:
        if request.symbols is not None:
            return list(request.symbols)
        assert request.watchlist is not None
        resolved = await workflow.execute_activity_method(
            ScreenerActivities.resolve_watchlist,
            WatchlistRequest(name=request.watchlist),
            **DURABLE_STEP,
        )
        return resolved.symbols

    async def _analyse(
        self, group: list[str], request: ScreenInput, slots: asyncio.Semaphore
    ) -> None:
        """One slot's work: a child, a single-symbol activity or a batch, one
        analysis at a time, so max_concurrent bounds the analyses in flight."""
        async with slots:
            if self._stop_starting or workflow.info().is_continue_as_new_suggested():
                self._stop_starting = True  # left for the next run
                return
            self._running += 1
            self._report()
            try:
                if self._children:
                    self._entries[group[0]] = await analyse_in_child(group[0], request)
                elif len(group) == 1:
                    self._entries[group[0]] = await analyse_in_activity(group[0], request)
                else:
                    await analyse_batch(group, request, self._entries, self._failures)
            except (ActivityError, ChildWorkflowError) as err:
                # One symbol failing never fails the screen. A symbol the screen's
                # own cancellation stopped is not finished; one cancelled on its
                # own (from the Web UI, say) counts as failed.
                if not (is_cancelled_exception(err) and screen_cancelling()):
                    for symbol in group:
                        if symbol not in self._entries:
                            self._failures[symbol] = symbol_failure(symbol, err)
            finally:
                # Plain state only: this also runs when an evicted workflow's
                # coroutine is closed, outside the workflow's event loop.
                self._running -= 1
            self._report()

    def _restore(self, state: ScreenState) -> None:
        self._symbols = list(state.symbols)
        self._entries = {e.symbol: e for e in state.entries}
        self._failures = {f.symbol: f for f in state.failures}
        self._started_at = state.started_at
        self._runs = state.runs + 1

    def _state(self) -> ScreenState:
        return ScreenState(
            symbols=self._symbols,
            entries=list(self._entries.values()),
            failures=list(self._failures.values()),
            started_at=self._started_at,
            runs=self._runs,
        )

    def _result(self, request: ScreenInput, status: ScreenResultStatus) -> ScreenResult:
        entries = self._entries.values()
        return ScreenResult(
            screen_id=workflow.info().workflow_id,
            strategy=request.strategy,
            watchlist=request.watchlist,
            status=status,
            total=len(self._symbols),
            analysed=len(self._entries),
            rejected=sum(1 for e in entries if e.recommendation == "reject"),
            failed=len(self._failures),
            top=rank(entries, request.top_n),
            failures=[self._failures[s] for s in self._symbols if s in self._failures],
            started_at=self._started_at,
            finished_at=workflow.now(),
        )

    async def _finish(self, request: ScreenInput, status: ScreenResultStatus) -> ScreenResult:
        self._status = "saving"
        self._report()
        result = self._result(request, status)
        info = workflow.info()
        record = ScreenRecord(
            workflow_id=info.workflow_id, run_id=info.first_execution_run_id, result=result
        )
        await workflow.execute_activity_method(
            ScreenerActivities.save_screen, record, **DURABLE_STEP
        )
        if request.notify and status == "completed":
            await workflow.execute_activity_method(
                ScreenerActivities.notify_screen, record, **DURABLE_STEP
            )
        self._final = result
        self._status = result.status
        self._report()
        return result
