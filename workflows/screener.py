"""ScreenerWorkflow: a bounded fan-out over symbols, ranked, saved.

This module is the orchestration: resolve the symbols, run at most
max_concurrent analyses at a time, keep what finished across continue-as-new,
rank and save. A symbol's analysis runs in one of two designs:

- in activities (the default): each symbol's whole analysis (the pipeline and
  the save, idempotent on (screen, symbol)) runs in an activity, never as a
  child workflow: one child per symbol ran a 500-symbol screen several times
  slower than the in-process asyncio run of the same code, see
  docs/benchmarks.md.
  - When the bulk broker lane has no rate budget (the simulated market), one
    activity (`screen_symbols`) analyzes a batch of symbols one after the
    other, sized so each max_concurrent slot takes about ROUNDS_PER_SLOT
    batches (at most 10 symbols, the worker's ScreenPlan): an activity task and
    a workflow task per batch instead of per symbol.
  - When the lane has a budget (tastytrade), each activity takes one symbol
    (`screen_symbol`), so the lane's rate limit counts symbols.
  - A batch reports what it finished; a symbol that failed for good is failed,
    any other failure is retried alone (`screen_symbol`, its own retry policy).
    A retried batch finds the symbols already saved instead of analyzing them
    again. Cancelled, a batch returns what it finished.
- one child AnalysisWorkflow per symbol (`per_symbol_workflows=True`, off by
  default): a row of its own in the Web UI, at about ten times the cost. Screens
  started before symbols became activities (no `screen-symbol-activities` patch
  marker) replay on this path.

Watchlists it screens by name are managed by WatchlistWorkflow (workflows/commands.py).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

from workflows.analysis import AnalysisWorkflow
from workflows.bounds import require_bounded_id

with workflow.unsafe.imports_passed_through():
    from activities.analysis import AnalysisActivities
    from activities.screener import ScreenerActivities
    from ttai.domain.analytics.ranking import rank, screen_entry, shortfall
    from ttai.models.analysis import AnalysisInput
    from ttai.models.common import MAX_SCREEN_ID_LENGTH
    from ttai.models.screen_steps import ScreenBatchInput, ScreenPlanRequest, ScreenSymbolInput
    from ttai.models.screener import (
        MAX_REASON_LENGTH,
        PROGRESS_QUERY,
        RESULT_SO_FAR_QUERY,
        SCREENER_WORKFLOW,
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
    from ttai.temporal import root_cause, search_attributes
    from ttai.temporal.steps import run_step

ACTIVITY_DESIGN = "screen-symbol-activities"
"""Patch ID: set in every screen started since symbols became activities."""

REJECTS_NEVER_RANK = "rejects-never-rank"
"""Patch ID: set in every screen run since rejects stopped ranking (its result
also says when the top is shorter than asked for)."""

SYMBOLS_PER_RUN = 600
"""Symbols a run analyses in activities before it continues as new.

The worst case is one symbol per activity and one at a time: each symbol then
adds 3 activity events and its own workflow task (3 events), ~4.5 KB of
history JSON. Measured (tests/screener/test_screener_history.py re-derives it): a run of
600 symbols that way holds ~3,615 events and ~2.7 MB of JSON (less as the
server stores it), under the server's continue-as-new suggestion (4,096
events / 4 MiB) and far from its hard limits (51,200 events / 50 MiB).
Batches and concurrency only lower that: the S&P 500 at max_concurrent 50 is
one run of ~490 events and ~0.6 MB. So screens up to 600 symbols run in one
run. A run also stops starting symbols when the server suggests continuing as
new. Finished symbols travel to the next run as compact ScreenEntry rows (see
MAX_SCREEN_SYMBOLS).
"""

ROUNDS_PER_SLOT = 2
"""Batches are sized so that each of the max_concurrent slots takes about this
many in turn: the last batches then end close together."""


def symbols_per_activity(pending: int, max_concurrent: int, largest: int) -> int:
    """How many symbols each analysis activity takes: at most `largest` (the
    deployment's plan), few enough that every slot runs ROUNDS_PER_SLOT of them."""
    return max(1, min(largest, pending // (max_concurrent * ROUNDS_PER_SLOT)))


SYMBOLS_PER_RUN_CHILDREN = 250
"""Symbols a run analyses in child workflows before it continues as new: each
adds 3 events (initiated, started, closed) plus at most two workflow tasks,
and its ~5 KB AnalysisResult. Measured: a 250-symbol run holds ~1,000 events
and ~1.4 MB of history; the worst case is ~2,300 events."""


@workflow.defn(name=SCREENER_WORKFLOW)
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
        self._rejects_rank = False  # set per run: only runs from before the patch rank them

    @workflow.query(name=PROGRESS_QUERY)
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

    @workflow.query(name=RESULT_SO_FAR_QUERY)
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
        self._rejects_rank = not workflow.patched(REJECTS_NEVER_RANK)
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
            await asyncio.gather(*(self._analyze(group, request, slots) for group in groups))
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
        resolved = await run_step(
            ScreenerActivities.resolve_watchlist, WatchlistRequest(name=request.watchlist)
        )
        return resolved.symbols

    async def _analyze(
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
                    self._entries[group[0]] = await analyze_in_child(group[0], request)
                elif len(group) == 1:
                    self._entries[group[0]] = await analyze_in_activity(group[0], request)
                else:
                    await analyze_batch(group, request, self._entries, self._failures)
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
        top = rank(entries, request.top_n, rejects=self._rejects_rank)
        return ScreenResult(
            screen_id=workflow.info().workflow_id,
            strategy=request.strategy,
            watchlist=request.watchlist,
            status=status,
            total=len(self._symbols),
            analyzed=len(self._entries),
            rejected=sum(1 for e in entries if e.recommendation == "reject"),
            failed=len(self._failures),
            top=top,
            top_n=None if self._rejects_rank else request.top_n,
            note=None if self._rejects_rank else shortfall(len(top), request.top_n),
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
        await run_step(ScreenerActivities.save_screen, record)
        if request.notify and status == "completed":
            await run_step(ScreenerActivities.notify_screen, record)
        self._final = result
        self._status = result.status
        self._report()
        return result


def symbol_failure(symbol: str, err: BaseException) -> ScreenFailure:
    """The failure row of a symbol whose activity (or child workflow) failed."""
    # The root cause says why (e.g. "unknown symbol: XYZ"); the wrappers only
    # say which activity and child it came through.
    root = root_cause(err)
    if isinstance(root, ApplicationError):
        kind, message = root.type, root.message  # the type is a field of its own
    else:
        kind, message = type(root).__name__, str(root)
    return ScreenFailure(
        symbol=symbol, reason=message[:MAX_REASON_LENGTH] or kind or "failed", error_type=kind
    )


def screen_cancelling() -> bool:
    """Is the screen itself being cancelled (not just one of its steps)?"""
    return workflow.cancellation_reason() is not None


async def batches(pending: list[str], request: ScreenInput) -> list[list[str]]:
    """The symbols in the batches their activities take (ScreenPlan, from the worker)."""
    plan = await run_step(ScreenerActivities.screen_plan, ScreenPlanRequest())
    size = symbols_per_activity(len(pending), request.max_concurrent, plan.symbols_per_activity)
    return [pending[i : i + size] for i in range(0, len(pending), size)]


async def analyze_batch(
    group: list[str],
    request: ScreenInput,
    entries: dict[str, ScreenEntry],
    failures: dict[str, ScreenFailure],
) -> None:
    """Analyze `group` in one activity, recording into `entries` and `failures`
    as symbols finish; what the batch leaves is analyzed one symbol at a time."""
    info = workflow.info()
    try:
        result = await run_step(
            AnalysisActivities.screen_symbols,
            ScreenBatchInput(
                screen_id=info.workflow_id,
                screen_run_id=info.first_execution_run_id,
                symbols=group,
                strategy=request.strategy,
            ),
            activity_id=f"{group[0]}+{len(group) - 1}",
            summary=" ".join(group),
        )
    except ActivityError as err:
        if is_cancelled_exception(err) and screen_cancelling():
            raise
        # The batch failed for good (its workers kept dying, say): each
        # symbol alone; those already saved are found, not analyzed again.
        alone = group
    else:
        entries.update((e.symbol, e) for e in result.entries)
        failures.update((f.symbol, f) for f in result.failures)
        alone = [*result.retry_alone, *result.unfinished]
    for symbol in alone:
        if screen_cancelling():
            return
        try:
            entries[symbol] = await analyze_in_activity(symbol, request)
        except ActivityError as err:
            if not (is_cancelled_exception(err) and screen_cancelling()):
                failures[symbol] = symbol_failure(symbol, err)


async def analyze_in_activity(symbol: str, request: ScreenInput) -> ScreenEntry:
    info = workflow.info()
    return await run_step(
        AnalysisActivities.screen_symbol,
        ScreenSymbolInput(
            screen_id=info.workflow_id,
            screen_run_id=info.first_execution_run_id,
            symbol=symbol,
            strategy=request.strategy,
        ),
        activity_id=symbol,
        summary=symbol,
    )


async def analyze_in_child(symbol: str, request: ScreenInput) -> ScreenEntry:
    screen_id = workflow.info().workflow_id
    # Deterministic child ID: a replayed or restarted screen finds its
    # children instead of analyzing a symbol twice.
    child_id = f"{screen_id}/{symbol}"
    result = await workflow.execute_child_workflow(
        AnalysisWorkflow.run,
        AnalysisInput(symbol=symbol, strategy=request.strategy, notify=False, screen_id=screen_id),
        id=child_id,
        static_summary=f"{symbol} in screen {screen_id}",
    )
    return screen_entry(result, child_id)
