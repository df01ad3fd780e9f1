"""Re-record AnalysisWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python tests/histories/record_analysis.py

Runs each case on a throwaway headless dev server (the time-skipping server
cannot hold the custom search attributes this workflow sets) with the real
workflow code and the fake activities from tests/analysis_fakes.py, and
writes tests/histories/AnalysisWorkflow-<case>.json for tests/test_replay.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402

from tests.analysis_fakes import FakeAnalysisActivities  # noqa: E402
from tests.history_files import write_history  # noqa: E402
from ttai.models.analysis import AnalysisInput  # noqa: E402
from ttai.stack.ports import free_port  # noqa: E402
from ttai.stack.temporal_server import TemporalDevServer  # noqa: E402
from ttai.temporal.client import data_converter  # noqa: E402
from worker import build_worker  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = {
    "strong-select": AnalysisInput(symbol="AAPL"),
    "chart-reject": AnalysisInput(symbol="TSLA"),
    "no-notify": AnalysisInput(symbol="MSFT", notify=False),
}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = TemporalDevServer(
            log_path=Path(tmp) / "temporal.log",
            port=free_port(),
            port_env_var=None,
            ui_port_env_var=None,
        )
        async with server:
            client = await Client.connect(server.address, data_converter=data_converter())
            fakes = FakeAnalysisActivities(charts={"TSLA": "reject"})
            async with build_worker(client, None, "record-analysis", activities=fakes.all()):
                for case, request in CASES.items():
                    name = f"AnalysisWorkflow-{case}"
                    handle = await client.start_workflow(
                        "AnalysisWorkflow",
                        request,
                        id=f"record-{name}",
                        task_queue="record-analysis",
                    )
                    await handle.result()
                    history = await handle.fetch_history()
                    write_history(HERE / f"{name}.json", history)
                    print(f"wrote {name}.json")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK runtime can abort the interpreter while it finalises (sdk-python#300).
    os._exit(0)
