"""Replay recorded screener histories against today's workflow code.

A change that would make a running screen non-deterministic fails here.
Re-record on purpose with tests/histories/record_screener.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from ttai.temporal_client import data_converter
from workflows.analysis import AnalysisWorkflow
from workflows.screener import ScreenerWorkflow, WatchlistWorkflow

HISTORIES = sorted(
    path
    for pattern in ("ScreenerWorkflow-*.json", "WatchlistWorkflow-*.json")
    for path in (Path(__file__).parent / "histories").glob(pattern)
)


def test_the_recorded_cases_are_there() -> None:
    cases = {path.stem for path in HISTORIES}
    assert {
        "ScreenerWorkflow-ranked-with-failure",
        "ScreenerWorkflow-watchlist",
        "ScreenerWorkflow-continued.run1",
        "ScreenerWorkflow-continued",
        "ScreenerWorkflow-cancelled",
        "WatchlistWorkflow-show",
    } <= cases


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    # The recorded workflow ID: child IDs derive from it (see record_screener.py).
    history = WorkflowHistory.from_json(f"record-{path.stem.split('.')[0]}", text)
    replayer = Replayer(
        workflows=[ScreenerWorkflow, WatchlistWorkflow, AnalysisWorkflow],
        data_converter=data_converter(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
