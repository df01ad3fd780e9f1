"""Re-record the screener's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_screener

Runs each case on a throw-away dev server (in memory, free port; the server
is told to suggest continue-as-new after 40 events so one case spans runs)
with the real workflow code and the fake activities of the workflow tests
(tests/helpers/screener_fakes.py), and writes
tests/histories/<WorkflowType>-<case>.json for tests/replay/test_replay.py: a
workflow change that would break screens already in flight fails there.

Two generations of screens are kept:
- `ScreenerWorkflow-activities-*` and `-children-option`: the current design
  (patch `screen-symbol-activities`), recorded by this script; those recorded
  before `-activities-rejects-never-rank` rank rejects (no `rejects-never-rank`
  marker) and are kept as they were;
- `ScreenerWorkflow-{ranked-with-failure,watchlist,continued,cancelled}`:
  screens from before the patch (one child per symbol, no marker), recorded
  by this script's earlier version (git history). Keep them: screens that
  were running when the design changed must still replay.
"""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from activities.screener import ScreenerActivities
from tests.helpers.histories import run_recorder, save, save_runs, workflow_id
from tests.helpers.screener_fakes import FakeScreenerActivities, TimedAnalysis
from tests.helpers.screens import wait_for_progress
from tests.helpers.temporal import throwaway_dev_server
from tests.helpers.waiting import eventually
from ttai.models.screen_steps import ScreenPlan
from ttai.models.screener import (
    ScreenInput,
    ScreenProgress,
    WatchlistCommand,
    WatchlistCommandResult,
)
from ttai.temporal.steps import same_step_as
from worker import build_worker

TASK_QUEUE = "record-screener"


class FakeWatchlists(FakeScreenerActivities):
    @same_step_as(ScreenerActivities.watchlist_command)
    async def watchlist_command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        return WatchlistCommandResult(symbols=self.watchlists.get(request.name or "", []))


async def record(client: Client) -> None:
    analysis = TimedAnalysis(
        blocked=frozenset({"NVDA", "AMZN"}),
        charts={"TSLA": "reject"},
        unknown=frozenset({"XYZ"}),
    )
    screener = FakeWatchlists({"mine": ["KO", "PFE", "XYZ"]})
    fakes = analysis.all() + screener.all()
    async with build_worker(client, None, TASK_QUEUE, activities=fakes):

        async def start(case: str, request: Any) -> WorkflowHandle[Any, Any]:
            return await client.start_workflow(
                "ScreenerWorkflow", request, id=workflow_id(case), task_queue=TASK_QUEUE
            )

        case = "ScreenerWorkflow-activities-ranked-with-failure"
        handle = await start(
            case, ScreenInput(symbols=["AAPL", "XYZ", "TSLA", "KO"], top_n=2, notify=True)
        )
        await handle.result()
        await save(handle, case)

        # Rejects never rank (patch `rejects-never-rank`): a top of 3 asked 5 says so.
        case = "ScreenerWorkflow-activities-rejects-never-rank"
        handle = await start(case, ScreenInput(symbols=["AAPL", "TSLA", "KO", "MSFT"], top_n=5))
        result = await handle.result()
        assert [e["symbol"] for e in result["top"]] == ["AAPL", "KO", "MSFT"], result
        assert result["note"] == "only 3 candidates for the top 5: rejects never rank"
        await save(handle, case)

        case = "ScreenerWorkflow-activities-watchlist"
        handle = await start(case, ScreenInput(watchlist="mine", max_concurrent=2))
        await handle.result()
        await save(handle, case)

        # The option: one child AnalysisWorkflow per symbol, after the patch.
        case = "ScreenerWorkflow-children-option"
        handle = await start(
            case,
            ScreenInput(symbols=["AAPL", "XYZ", "KO"], per_symbol_workflows=True),
        )
        await handle.result()
        await save(handle, case)

        symbols = ["AAPL", "MSFT", "KO", "PFE", "JPM", "XOM", "BAC", "WMT", "T", "VZ", "MRK"]
        symbols += ["ABBV", "CVX", "PEP", "JNJ", "HD"]
        case = "ScreenerWorkflow-activities-continued"
        screener.plan = ScreenPlan(symbols_per_activity=1)  # a budgeted lane
        handle = await start(case, ScreenInput(symbols=symbols, max_concurrent=2))
        await handle.result()
        screener.plan = ScreenPlan(symbols_per_activity=10)
        progress = await handle.query("progress", result_type=ScreenProgress)
        assert progress.runs > 1, "expected continue-as-new"
        await save_runs(client, handle, case)

        # NVDA and AMZN block; cancel once AAPL is done and both are running.
        case = "ScreenerWorkflow-activities-cancelled"
        handle = await start(
            case, ScreenInput(symbols=["AAPL", "NVDA", "AMZN", "META"], max_concurrent=2)
        )
        await wait_for_progress(handle, lambda p: p.done >= 1 and p.running == 2)
        await eventually(
            lambda: {("start", "NVDA"), ("start", "AMZN")} <= set(analysis.events),
            what="NVDA's and AMZN's analyses to start",
            every=0.05,
        )
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):  # it ends cancelled
            await handle.result()
        analysis.release.set()
        await save(handle, case)

        # Batches (12 symbols, 2 at once: 3 per activity), one unknown among them.
        case = "ScreenerWorkflow-activities-batches"
        batched = ["AAPL", "MSFT", "KO", "PFE", "XYZ", "JPM", "XOM", "BAC", "WMT", "T", "VZ"]
        handle = await start(case, ScreenInput(symbols=[*batched, "TSLA"], max_concurrent=2))
        await handle.result()
        await save(handle, case)

        watchlist = await client.start_workflow(
            "WatchlistWorkflow",
            WatchlistCommand(action="show", name="mine"),
            id=workflow_id("WatchlistWorkflow-show"),
            task_queue=TASK_QUEUE,
        )
        await watchlist.result()
        await save(watchlist, "WatchlistWorkflow-show")


async def record_batch_cancel(client: Client) -> None:
    """A batch blocked on its third symbol when the screen is cancelled."""
    analysis = TimedAnalysis(blocked=frozenset({"NVDA"}))
    fakes = analysis.all() + FakeWatchlists().all()
    async with build_worker(client, None, TASK_QUEUE, activities=fakes):
        case = "ScreenerWorkflow-activities-batch-cancelled"
        symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AMD"]
        handle = await client.start_workflow(
            "ScreenerWorkflow",
            ScreenInput(symbols=symbols, max_concurrent=1),
            id=workflow_id(case),
            task_queue=TASK_QUEUE,
        )
        await eventually(
            lambda: ("start", "NVDA") in analysis.events,
            what="NVDA's analysis to start",
            every=0.05,
        )
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):  # it ends cancelled
            await handle.result()
        analysis.release.set()
        await save(handle, case)


async def main() -> None:
    async with throwaway_dev_server({"limit.historyCount.suggestContinueAsNew": 40}) as client:
        await record(client)
        await record_batch_cancel(client)


if __name__ == "__main__":
    run_recorder(main)
