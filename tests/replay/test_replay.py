"""Replay every recorded history against today's workflow code.

A change that would make a running workflow non-deterministic fails here.
Each workflow type must have at least one history; the recorder scripts in
tests/histories/ re-record them on purpose after a deliberate change
(`python -m tests.histories.record_<area>`, see tests/helpers/histories.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.helpers.histories import HISTORY_DIR, workflow_id
from ttai.temporal.client import data_converter
from workflows.registry import ALL_WORKFLOWS

HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


def _workflow_type(path: Path) -> str:
    return path.stem.split("-", 1)[0]


def test_every_workflow_type_has_a_recorded_history() -> None:
    types = {workflow._Definition.must_from_class(cls).name for cls in ALL_WORKFLOWS}
    recorded = {_workflow_type(path) for path in HISTORIES}
    assert types <= recorded, f"no history recorded for {sorted(types - recorded)}"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    # IDs derived from the workflow ID, such as a screen's child IDs, must match.
    history = WorkflowHistory.from_json(workflow_id(path.stem), text)
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
