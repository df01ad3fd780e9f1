"""A screen's history stays far under Temporal's limits.

A run continues as new when the server suggests it (each design, on a server
configured to suggest early), and SYMBOLS_PER_RUN is re-derived from measured
histories of the worst case.
"""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.helpers.analysis_fakes import FakeAnalysisActivities
from tests.helpers.screener_fakes import FakeScreenerActivities
from tests.helpers.screens import start_screen
from tests.helpers.temporal import MakeDevServer
from ttai.models.screener import ScreenInput, ScreenProgress
from ttai.temporal.client import data_converter
from worker import build_worker
from workflows.screener import SYMBOLS_PER_RUN


@pytest.mark.parametrize(
    ("design", "symbols_per_activity", "count", "max_concurrent"),
    [("activities", 1, 10, 2), ("batches", 10, 80, 10), ("children", 10, 10, 2)],
)
async def test_continues_as_new_when_the_server_suggests(
    make_dev_server: MakeDevServer,
    task_queue: str,
    design: str,
    symbols_per_activity: int,
    count: int,
    max_concurrent: int,
) -> None:
    server = await make_dev_server(dynamic_config={"limit.historyCount.suggestContinueAsNew": 40})
    small = await Client.connect(server.address, data_converter=data_converter())
    analysis = FakeAnalysisActivities()
    screener = FakeScreenerActivities(symbols_per_activity=symbols_per_activity)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    symbols = [a + b for a in letters for b in letters][:count]
    fakes = analysis.all() + screener.all()
    async with build_worker(small, None, task_queue, activities=fakes):
        handle = await start_screen(
            small,
            task_queue,
            ScreenInput(
                symbols=symbols,
                max_concurrent=max_concurrent,
                per_symbol_workflows=design == "children",
            ),
            "screen-can",
        )
        result = await handle.result()
        progress = await handle.query("progress", result_type=ScreenProgress)
    assert progress.runs > 1
    assert (result.analyzed, result.total) == (len(symbols), len(symbols))
    assert analysis.calls["chart_analysis"] == len(symbols)  # none analyzed twice
    assert len(analysis.saved) == len(symbols)
    assert (analysis.calls["screen_symbols"] > 0) is (design == "batches")
    assert len(screener.saved) == 1


async def test_symbols_per_run_fits_the_worst_case(
    make_dev_server: MakeDevServer, task_queue: str
) -> None:
    """SYMBOLS_PER_RUN, re-derived from measured histories. The worst case is one
    symbol per activity (a budgeted lane) and one at a time, so that every
    completion is its own workflow task. Two such screens give the history's
    cost per symbol; SYMBOLS_PER_RUN symbols at that cost stay under the
    server's continue-as-new suggestion (4,096 events, 4 MiB)."""
    server = await make_dev_server()  # the server's default limits
    own = await Client.connect(server.address, data_converter=data_converter())
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    tickers = [a + b + c for a in letters for b in letters for c in letters]
    analysis, screener = FakeAnalysisActivities(), FakeScreenerActivities(symbols_per_activity=1)
    sizes: dict[int, tuple[int, int]] = {}
    async with build_worker(own, None, task_queue, activities=analysis.all() + screener.all()):
        for count in (20, 80):
            handle = await start_screen(
                own,
                task_queue,
                ScreenInput(symbols=tickers[:count], max_concurrent=1),
                "screen-sized",
            )
            assert (await handle.result()).analyzed == count
            history = await handle.fetch_history()
            sizes[count] = (len(history.events), len(history.to_json()))
    (events_20, bytes_20), (events_80, bytes_80) = sizes[20], sizes[80]
    per_symbol = ((events_80 - events_20) / 60, (bytes_80 - bytes_20) / 60)
    assert per_symbol[0] <= 6  # 3 activity events and at most one workflow task
    predicted = (
        events_20 + per_symbol[0] * (SYMBOLS_PER_RUN - 20),
        bytes_20 + per_symbol[1] * (SYMBOLS_PER_RUN - 20),
    )
    print(f"\nper symbol {per_symbol}; a run of {SYMBOLS_PER_RUN}: {predicted}")
    assert predicted[0] < 4096
    assert predicted[1] < 4 * 1024 * 1024  # JSON: more than the server stores
