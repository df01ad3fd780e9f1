"""The screen's default design: each symbol's whole analysis inside an activity.

A symbol's analysis (chart -> options -> research -> synthesis -> save,
idempotent on (screen, symbol)) runs in an activity, never as a child
workflow: one child per symbol ran a 500-symbol screen at 4-6x the in-process
asyncio run of the same code (10-15x at max_concurrent 5). Measured in
bench/screener.py (docs/pending/screener.md):

- When the bulk broker lane has no rate budget (the simulated market), one
  activity (`screen_symbols`) analyses a batch of symbols one after the other,
  sized so each max_concurrent slot takes about ROUNDS_PER_SLOT batches (at
  most 10 symbols, the worker's ScreenPlan). One activity per symbol measured
  1.2-1.9x at max_concurrent 50 but 2.2-2.6x at 5: each symbol paid its own
  activity task and workflow task, and at 5 at once nothing hides that. With
  batches: 0.9-1.34x at 50 and 1.1-1.27x at 5.
- When the lane has a budget (tastytrade), each activity takes one symbol
  (`screen_symbol`), so the lane's rate limit counts symbols; the budget, not
  Temporal, sets the pace there.
- A batch reports what it finished; a symbol that failed for good is failed,
  any other failure is retried alone (`screen_symbol`, its own retry policy).
  A retried batch finds the symbols already saved instead of analysing them
  again. Cancelled, a batch returns what it finished.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.policies import BATCH_STEP, COMPUTE_STEP, SYMBOL_STEP, on_lane

with workflow.unsafe.imports_passed_through():
    from activities.analysis import AnalysisActivities
    from activities.screener import ScreenerActivities
    from ttai.models.screen_steps import ScreenBatchInput, ScreenPlanRequest, ScreenSymbolInput
    from ttai.models.screener import MAX_REASON_LENGTH, ScreenEntry, ScreenFailure, ScreenInput
    from ttai.temporal.errors import root_cause
    from ttai.temporal.lanes import BULK

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
    plan = await workflow.execute_local_activity_method(
        ScreenerActivities.screen_plan, ScreenPlanRequest(), **COMPUTE_STEP
    )
    size = symbols_per_activity(len(pending), request.max_concurrent, plan.symbols_per_activity)
    return [pending[i : i + size] for i in range(0, len(pending), size)]


async def analyse_batch(
    group: list[str],
    request: ScreenInput,
    entries: dict[str, ScreenEntry],
    failures: dict[str, ScreenFailure],
) -> None:
    """Analyse `group` in one activity, recording into `entries` and `failures`
    as symbols finish; what the batch leaves is analysed one symbol at a time."""
    info = workflow.info()
    try:
        result = await workflow.execute_activity_method(
            AnalysisActivities.screen_symbols,
            ScreenBatchInput(
                screen_id=info.workflow_id,
                screen_run_id=info.first_execution_run_id,
                symbols=group,
                strategy=request.strategy,
            ),
            activity_id=f"{group[0]}+{len(group) - 1}",
            summary=" ".join(group),
            **BATCH_STEP,
            **on_lane(BULK),
        )
    except ActivityError as err:
        if is_cancelled_exception(err) and screen_cancelling():
            raise
        # The batch failed for good (its workers kept dying, say): each
        # symbol alone; those already saved are found, not analysed again.
        alone = group
    else:
        entries.update((e.symbol, e) for e in result.entries)
        failures.update((f.symbol, f) for f in result.failures)
        alone = [*result.retry_alone, *result.unfinished]
    for symbol in alone:
        if screen_cancelling():
            return
        try:
            entries[symbol] = await analyse_in_activity(symbol, request)
        except ActivityError as err:
            if not (is_cancelled_exception(err) and screen_cancelling()):
                failures[symbol] = symbol_failure(symbol, err)


async def analyse_in_activity(symbol: str, request: ScreenInput) -> ScreenEntry:
    info = workflow.info()
    return await workflow.execute_activity_method(
        AnalysisActivities.screen_symbol,
        ScreenSymbolInput(
            screen_id=info.workflow_id,
            screen_run_id=info.first_execution_run_id,
            symbol=symbol,
            strategy=request.strategy,
        ),
        activity_id=symbol,
        summary=symbol,
        **SYMBOL_STEP,
        **on_lane(BULK),
    )
