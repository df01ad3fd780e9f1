"""ScreenerWorkflow: one child AnalysisWorkflow per symbol, bounded, ranked, saved.

Watchlists it screens by name are managed by WatchlistWorkflow (workflows/watchlists.py).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError, is_cancelled_exception

from workflows.analysis import AnalysisWorkflow
from workflows.bounds import require_bounded_id
from workflows.policies import DURABLE_STEP

with workflow.unsafe.imports_passed_through():
    from activities.screener import ScreenerActivities
    from ttai.domain.analytics.ranking import rank, screen_entry
    from ttai.models.analysis import AnalysisInput
    from ttai.models.common import MAX_SCREEN_ID_LENGTH
    from ttai.models.screener import (
        MAX_REASON_LENGTH,
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

SYMBOLS_PER_RUN = 250
"""Symbols a run starts before it continues as new.

Each symbol adds 3 child events (initiated, started, closed) to this history,
plus at most two workflow tasks (3 events each) when starts and completions
arrive one at a time, and the child's AnalysisResult (~5 KB) in the closed
event. Measured on the dev server: a 250-symbol run holds ~1,000 events and
~1.4 MB of history (JSON); the worst case is ~2,300 events. Both stay under the
server's continue-as-new suggestion (4,096 events / 4 MiB) and far from the
hard limits (51,200 events / 50 MiB). A run also stops starting children when
the server suggests continuing as new. Finished symbols travel to the next run
as compact ScreenEntry rows (see MAX_SCREEN_SYMBOLS).
"""


def _failure(symbol: str, err: ChildWorkflowError) -> ScreenFailure:
    # The root cause says why (e.g. "unknown symbol: XYZ"); the wrappers only
    # say which activity and child it came through.
    root: BaseException = err
    while root.__cause__ is not None:
        root = root.__cause__
    kind = root.type if isinstance(root, ApplicationError) else type(root).__name__
    return ScreenFailure(
        symbol=symbol, reason=str(root)[:MAX_REASON_LENGTH] or kind or "failed", error_type=kind
    )


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
        require_bounded_id(MAX_SCREEN_ID_LENGTH)  # children are `<ID>/<symbol>`
        self._request = request
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
            pending = [s for s in self._symbols if s not in finished]
            slots = asyncio.Semaphore(request.max_concurrent)
            await asyncio.gather(
                *(self._analyse(s, request, slots) for s in pending[:SYMBOLS_PER_RUN])
            )
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

    async def _analyse(self, symbol: str, request: ScreenInput, slots: asyncio.Semaphore) -> None:
        async with slots:
            if self._stop_starting or workflow.info().is_continue_as_new_suggested():
                self._stop_starting = True  # left for the next run
                return
            screen_id = workflow.info().workflow_id
            # Deterministic child ID: a replayed or restarted screen finds its
            # children instead of analysing a symbol twice.
            child_id = f"{screen_id}/{symbol}"
            self._running += 1
            self._report()
            try:
                result = await workflow.execute_child_workflow(
                    AnalysisWorkflow.run,
                    AnalysisInput(
                        symbol=symbol, strategy=request.strategy, notify=False, screen_id=screen_id
                    ),
                    id=child_id,
                    static_summary=f"{symbol} in screen {screen_id}",
                )
                self._entries[symbol] = screen_entry(result, child_id)
            except ChildWorkflowError as err:
                # One symbol failing never fails the screen. A child the screen's
                # own cancellation stopped is not finished; one cancelled on
                # its own (from the Web UI, say) counts as failed.
                if not (is_cancelled_exception(err) and workflow.cancellation_reason() is not None):
                    self._failures[symbol] = _failure(symbol, err)
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
