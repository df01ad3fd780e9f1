"""Replay recorded monitor histories against today's workflow code.

A change that would make a running monitor non-deterministic fails here.
Re-record on purpose with tests/histories/record_monitors.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from ttai.temporal_client import data_converter
from workflows.monitors import MONITOR_WORKFLOWS

HISTORIES = sorted(
    path
    for pattern in (
        "PriceAlertMonitorWorkflow-*.json",
        "PortfolioMonitorWorkflow-*.json",
        "PositionSyncWorkflow-*.json",
    )
    for path in (Path(__file__).parent / "histories").glob(pattern)
)


def test_the_recorded_cases_are_there() -> None:
    assert {
        "PriceAlertMonitorWorkflow-steering.run1",
        "PriceAlertMonitorWorkflow-steering",
        "PortfolioMonitorWorkflow-weekend",
        "PositionSyncWorkflow-weekend",
    } <= {path.stem for path in HISTORIES}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    history = WorkflowHistory.from_json(f"record-{path.stem.split('.')[0]}", text)
    replayer = Replayer(workflows=MONITOR_WORKFLOWS, data_converter=data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
