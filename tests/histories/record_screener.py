"""Re-record the screener's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_screener

Runs each case on a throw-away dev server (in memory, free port; the server
is told to suggest continue-as-new after 40 events so one case spans runs)
with the real workflow code and the fake activities of the workflow tests
(tests/helpers/screener_fakes.py), and writes
tests/histories/<WorkflowType>-<case>.json for tests/replay/test_replay.py: a
workflow change that would break screens already in flight fails there.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from tests.helpers.histories import run_recorder, save, save_runs, workflow_id
from tests.helpers.screener_fakes import FakeScreenerActivities, TimedAnalysis
from tests.helpers.temporal import throwaway_dev_server
from ttai.models.screener import (
    ScreenInput,
    ScreenProgress,
    WatchlistCommand,
    WatchlistCommandResult,
)
from worker import build_worker

TASK_QUEUE = "record-screener"


class FakeWatchlists(FakeScreenerActivities):
    @activity.defn(name="watchlist_command")
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

        case = "ScreenerWorkflow-ranked-with-failure"
        handle = await start(
            case, ScreenInput(symbols=["AAPL", "XYZ", "TSLA", "KO"], top_n=2, notify=True)
        )
        await handle.result()
        await save(handle, case)

        case = "ScreenerWorkflow-watchlist"
        handle = await start(case, ScreenInput(watchlist="mine", max_concurrent=2))
        await handle.result()
        await save(handle, case)

        symbols = ["AAPL", "MSFT", "KO", "PFE", "JPM", "XOM", "BAC", "WMT"]
        case = "ScreenerWorkflow-continued"
        handle = await start(case, ScreenInput(symbols=symbols, max_concurrent=2))
        await handle.result()
        progress = await handle.query("progress", result_type=ScreenProgress)
        assert progress.runs > 1, "expected continue-as-new"
        await save_runs(client, handle, case)

        # NVDA and AMZN block; cancel once AAPL is done and both are running.
        case = "ScreenerWorkflow-cancelled"
        handle = await start(
            case, ScreenInput(symbols=["AAPL", "NVDA", "AMZN", "META"], max_concurrent=2)
        )
        while True:
            progress = await handle.query("progress", result_type=ScreenProgress)
            if progress.done >= 1 and progress.running == 2:
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):  # it ends cancelled
            await handle.result()
        analysis.release.set()
        await save(handle, case)

        watchlist = await client.start_workflow(
            "WatchlistWorkflow",
            WatchlistCommand(action="show", name="mine"),
            id=workflow_id("WatchlistWorkflow-show"),
            task_queue=TASK_QUEUE,
        )
        await watchlist.result()
        await save(watchlist, "WatchlistWorkflow-show")


async def main() -> None:
    async with throwaway_dev_server({"limit.historyCount.suggestContinueAsNew": 40}) as client:
        await record(client)


if __name__ == "__main__":
    run_recorder(main)
