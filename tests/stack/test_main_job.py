"""`make run`'s main job (`python worker.py --local`) end to end: up, demo, SIGTERM,
clean exit, state kept."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from temporalio.client import Client

from ttai.config import PROJECT_ROOT
from ttai.stack.ports import free_port, port_free

READY = "Ctrl-C stops everything"


async def run_main_job(
    env: dict[str, str], while_up: Callable[[], Awaitable[None]] | None = None
) -> tuple[int, str]:
    """Start `python worker.py --local`, wait until it is up, run `while_up`, SIGTERM it;
    return (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--local",
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    output: list[str] = []
    async with asyncio.timeout(180):
        while READY not in "".join(output)[-400:]:
            line = await proc.stdout.readline()
            assert line, "".join(output)
            output.append(line.decode())
        if while_up is not None:
            await while_up()
        proc.send_signal(signal.SIGTERM)
        rest, _ = await proc.communicate()
    return proc.returncode or 0, "".join(output) + rest.decode()


async def test_main_job_runs_stops_cleanly_and_keeps_its_state(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("TEMPORAL", "UI", "POSTGRES")}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "DATABASE_URL", "TT_", "TTAI_"))
    }
    env |= {f"TTAI_{name}_PORT": str(port) for name, port in ports.items()}
    env |= {"TTAI_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}

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
