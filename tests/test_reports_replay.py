"""Replay recorded report histories against today's workflow code.

A change that would make a running report workflow non-deterministic fails
here. Re-record on purpose with tests/histories/record_reports.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from ttai.temporal_client import data_converter
from workflows.reports import REPORT_WORKFLOWS

HISTORIES = sorted(
    path
    for pattern in ("*Briefing*.json", "*Summary*.json", "*Review*.json")
    for path in (Path(__file__).parent / "histories").glob(pattern)
)


def test_every_report_workflow_has_a_recorded_history() -> None:
    recorded = {path.name.split("-")[0] for path in HISTORIES}
    assert recorded == {
        "MorningBriefingWorkflow", "EndOfDaySummaryWorkflow", "WeeklyReviewWorkflow",
    }  # fmt: skip


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    history = WorkflowHistory.from_json(f"replay-{path.stem}", text)
    replayer = Replayer(workflows=REPORT_WORKFLOWS, data_converter=data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
