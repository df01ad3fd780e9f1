"""`make run`'s main job (`python worker.py --local`) end to end: up, demo, SIGTERM,
clean exit, state kept."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
from temporalio.client import Client

from tests.helpers.main_job import main_job_env, run_main_job
from ttai.loopback import port_free


async def test_main_job_runs_stops_cleanly_and_keeps_its_state(tmp_path: Path) -> None:
    job = main_job_env(tmp_path / "state")
    env, ports = job.env, job.ports

    # As a person sees it in an 80-column terminal: the demo's URL stays one line.
    code, output = await run_main_job(env | {"COLUMNS": "80"})
    assert code == 0, output
    assert f"Temporal Web UI: http://127.0.0.1:{ports['UI']}" in output
    assert re.search(
        rf"see it at http://127\.0\.0\.1:{ports['UI']}/namespaces/default/workflows/"
        r"demo-analysis-AAPL-\d{8}-\d{6}\n",
        output,
    ), output
    assert "AAPL" in output and "stopped cleanly" in output

    # Everything stopped: the ports are free again.
    for port in ports.values():
        free = await asyncio.to_thread(port_free, port)
        assert free, f"port {port} still in use after the main job stopped"

    async def both_demos_are_there() -> None:
        # The second run sees the first run's history and database.
        client = await Client.connect(f"127.0.0.1:{ports['TEMPORAL']}")
        ids = [wf.id async for wf in client.list_workflows("WorkflowType = 'AnalysisWorkflow'")]
        assert len(ids) == 2, ids
        conn = await asyncpg.connect(
            f"postgresql://ttai_app@127.0.0.1:{ports['POSTGRES']}/ttai",
            passfile=str(tmp_path / "state" / "pgpass"),
        )
        try:
            assert await conn.fetchval("SELECT count(*) FROM analyses") == 2
        finally:
            await conn.close()

    code, output = await run_main_job(env, both_demos_are_there)
    assert code == 0, output
    assert "'report-morning-briefing': 'unchanged'" in output
    # The generated database passwords never reach the output.
    for line in (tmp_path / "state" / "pgpass").read_text().splitlines()[1:]:
        assert line.rsplit(":", 1)[1] not in output
