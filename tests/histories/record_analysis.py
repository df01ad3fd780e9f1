"""Re-record AnalysisWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_analysis

Runs each case on a throwaway headless dev server (the time-skipping server
cannot hold the custom search attributes this workflow sets) with the real
workflow code and the fake activities from tests/helpers/analysis_fakes.py,
and writes tests/histories/AnalysisWorkflow-<case>.json for
tests/replay/test_replay.py.
"""

from __future__ import annotations

from tests.helpers.analysis_fakes import FakeAnalysisActivities
from tests.helpers.histories import run_recorder, save, workflow_id
from tests.helpers.temporal import throwaway_dev_server
from ttai.models.analysis import AnalysisInput
from worker import build_worker

TASK_QUEUE = "record-analysis"
CASES = {
    "strong-select": AnalysisInput(symbol="AAPL"),
    "chart-reject": AnalysisInput(symbol="TSLA"),
    "no-notify": AnalysisInput(symbol="MSFT", notify=False),
}


async def main() -> None:
    async with throwaway_dev_server() as client:
        fakes = FakeAnalysisActivities(charts={"TSLA": "reject"})
        async with build_worker(client, None, TASK_QUEUE, activities=fakes.all()):
            for case, request in CASES.items():
                name = f"AnalysisWorkflow-{case}"
                handle = await client.start_workflow(
                    "AnalysisWorkflow", request, id=workflow_id(name), task_queue=TASK_QUEUE
                )
                await handle.result()
                await save(handle, name)


if __name__ == "__main__":
    run_recorder(main)
