"""The screen's optional design: one child AnalysisWorkflow per symbol.

`ScreenInput.per_symbol_workflows=True` gives each symbol its own workflow (a
row of its own in the Web UI), at about ten times the cost of activities
(bench/screener.py): a child costs ~40 events and ~7 workflow tasks. Screens
started before symbols became activities (no `screen-symbol-activities` patch
marker) replay on this path.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.analysis import AnalysisWorkflow

with workflow.unsafe.imports_passed_through():
    from ttai.domain.analytics.ranking import screen_entry
    from ttai.models.analysis import AnalysisInput
    from ttai.models.screener import ScreenEntry, ScreenInput

SYMBOLS_PER_RUN_CHILDREN = 250
"""Symbols a run analyses in child workflows before it continues as new: each
adds 3 events (initiated, started, closed) plus at most two workflow tasks,
and its ~5 KB AnalysisResult. Measured: a 250-symbol run holds ~1,000 events
and ~1.4 MB of history; the worst case is ~2,300 events."""


async def analyse_in_child(symbol: str, request: ScreenInput) -> ScreenEntry:
    screen_id = workflow.info().workflow_id
    # Deterministic child ID: a replayed or restarted screen finds its
    # children instead of analysing a symbol twice.
    child_id = f"{screen_id}/{symbol}"
    result = await workflow.execute_child_workflow(
        AnalysisWorkflow.run,
        AnalysisInput(symbol=symbol, strategy=request.strategy, notify=False, screen_id=screen_id),
        id=child_id,
        static_summary=f"{symbol} in screen {screen_id}",
    )
    return screen_entry(result, child_id)
