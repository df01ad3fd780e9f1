"""The Temporal Web UI as a person sees it after `make run` and a screen,
rendered by headless Chromium: a screen is one row of the workflow list, and
the monitors stay beside it (issue 12: one child per symbol used to bury
them under hundreds of rows)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote

from tests.helpers.main_job import main_job_env, run_main_job
from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT
from ttai.models.monitors import MONITOR_IDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No calls home: the machine's closed network refuses them, many at a time.
QUIET = (
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
)  # fmt: skip
ROW = 'data-testid="workflows-summary-configurable-table-row"'
WORKFLOW_LINK = re.compile(r'href="/namespaces/default/workflows/([^/"]+)/')


async def render(url: str, profile: Path) -> str:
    """The page's DOM once its scripts have run, as Chromium shows it."""
    assert CHROMIUM, "chromium is missing: `make test` installs it (apt-get install chromium)"
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", *QUIET,
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    dom, _ = await asyncio.wait_for(proc.communicate(), 60)
    return dom.decode()


def listed_workflow_ids(dom: str) -> list[str]:
    """The workflow IDs of the list's rows, top to bottom."""
    rows = dom.split(ROW)[1:]
    return [unquote(m.group(1)) for row in rows if (m := WORKFLOW_LINK.search(row))]


async def test_a_screen_is_one_row_beside_the_monitors(tmp_path: Path) -> None:
    job = main_job_env(tmp_path / "state")
    seen: dict[str, object] = {}

    async def screen_then_look() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "starter.py", "screen", "--watchlist", "default", "--json",
            cwd=PROJECT_ROOT, env=job.env | {"TEMPORAL_ADDRESS": job.temporal_address},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        screen = json.loads(out)
        seen["screen"] = screen

        async def listed() -> list[str]:
            url = f"{job.ui_url}/namespaces/default/workflows"
            return listed_workflow_ids(await render(url, tmp_path / "chromium"))

        seen["ids"] = await eventually(  # visibility may take a moment to list the screen
            listed,
            what="the screen in the Web UI's workflow list",
            until=lambda ids: screen["screen_id"] in ids,
            within=60,
            every=1,
        )

    code, output = await run_main_job(job.env, screen_then_look)
    assert code == 0, output
    screen, ids = seen["screen"], seen["ids"]
    assert isinstance(screen, dict) and isinstance(ids, list)
    assert screen["analyzed"] == screen["total"] == 12, screen

    assert set(MONITOR_IDS.values()) <= set(ids), ids
    assert ids.count(screen["screen_id"]) == 1, ids
    # Twelve symbols analyzed, and not one row of them: no per-symbol workflow.
    assert not [i for i in ids if i.startswith(f"{screen['screen_id']}/")], ids
    assert len(ids) <= 7, ids  # four monitors, the demo, the screen, its watchlist lookup
