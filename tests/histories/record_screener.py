"""Re-record the screener's replay histories (on purpose, after a deliberate change).

    .venv/bin/python tests/histories/record_screener.py

Runs each case on a throw-away dev server (in memory, free port; the server
is told to suggest continue-as-new after 40 events so one case spans runs)
with the real workflow code and the fake activities of the workflow tests,
and writes tests/histories/<WorkflowType>-<case>.json. tests/test_replay.py
replays them: a workflow change that would break screens already in flight
fails there.

Two generations of screens are kept:
- `ScreenerWorkflow-activities-*` and `-children-option`: the current design
  (patch `screen-symbol-activities`), recorded by this script;
- `ScreenerWorkflow-{ranked-with-failure,watchlist,continued,cancelled}`:
  screens from before the patch (one child per symbol, no marker), recorded
  by this script's earlier version (git history). Keep them: screens that
  were running when the design changed must still replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from temporalio import activity  # noqa: E402
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle  # noqa: E402

from tests.history_files import write_history  # noqa: E402
from tests.test_screener_workflow import FakeScreenerActivities, TimedAnalysis  # noqa: E402
from ttai.models.screener import (  # noqa: E402
    ScreenInput,
    ScreenPlan,
    ScreenProgress,
    WatchlistCommand,
    WatchlistCommandResult,
)
from ttai.stack.ports import free_port  # noqa: E402
from ttai.stack.temporal_server import TemporalDevServer  # noqa: E402
from ttai.temporal_client import data_converter  # noqa: E402
from worker import build_worker  # noqa: E402

HERE = Path(__file__).resolve().parent
TASK_QUEUE = "record-screener"


class FakeWatchlists(FakeScreenerActivities):
    @activity.defn(name="watchlist_command")
    async def watchlist_command(self, request: WatchlistCommand) -> WatchlistCommandResult:
        return WatchlistCommandResult(symbols=self.watchlists.get(request.name or "", []))


def workflow_id(case: str) -> str:
    """The ID a case runs under; the replay test derives it from the file name
    (`<case>.json`, or `<case>.runN.json` for an earlier run)."""
    return f"record-{case}"


async def save(handle: WorkflowHandle[Any, Any], name: str) -> None:
    history = await handle.fetch_history()
    write_history(HERE / f"{name}.json", history)
    print("wrote", f"{name}.json")


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
        await save(handle, case)
        first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        await save(first, f"{case}.run1")

        # NVDA and AMZN block; cancel once AAPL is done and both are running.
        case = "ScreenerWorkflow-activities-cancelled"
        handle = await start(
            case, ScreenInput(symbols=["AAPL", "NVDA", "AMZN", "META"], max_concurrent=2)
        )
        while True:
            progress = await handle.query("progress", result_type=ScreenProgress)
            if progress.done >= 1 and progress.running == 2:
                break
            await asyncio.sleep(0.05)
        while not {("start", "NVDA"), ("start", "AMZN")} <= set(analysis.events):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
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
        while ("start", "NVDA") not in analysis.events:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):  # it ends cancelled
            await handle.result()
        analysis.release.set()
        await save(handle, case)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with TemporalDevServer(
            log_path=Path(tmp) / "temporal.log",
            port=free_port(),
            dynamic_config={"limit.historyCount.suggestContinueAsNew": 40},
            port_env_var=None,
        ) as server:
            client = await Client.connect(server.address, data_converter=data_converter())
            await record(client)
            await record_batch_cancel(client)


if __name__ == "__main__":
    asyncio.run(main())
