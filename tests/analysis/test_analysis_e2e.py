"""AnalysisWorkflow end to end: dev server, real PostgreSQL, simulated market."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities import build_activities
from activities.analysis import AnalysisActivities
from ttai.config import PROJECT_ROOT, Settings
from ttai.db.analyses import AnalysisStore
from ttai.models.analysis import AnalysisInput, AnalysisResult, SaveAnalysisRequest
from ttai.models.analysis import SaveAnalysisResult as SaveResult
from ttai.models.notifications import NotifyResult
from ttai.servers.temporal_server import TemporalDevServer
from ttai.services import Services, open_services
from ttai.temporal.steps import same_step_as
from worker import build_worker


@pytest_asyncio.fixture(loop_scope="session")
async def services(database_url: str) -> AsyncIterator[Services]:
    async with open_services(Settings(database_url=database_url), database_url) as opened:
        yield opened


async def start(client: Client, task_queue: str, request: AnalysisInput) -> WorkflowHandle:
    return await client.start_workflow(
        "AnalysisWorkflow",
        request,
        id=f"analysis-{request.symbol}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=AnalysisResult,
        execution_timeout=timedelta(minutes=2),
    )


async def rows(pool: asyncpg.Pool, table: str) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {table}")


async def test_analysis_runs_on_real_services(
    client: Client, task_queue: str, services: Services
) -> None:
    async with build_worker(client, services, task_queue):
        handle = await start(client, task_queue, AnalysisInput(symbol="AAPL"))
        result = await handle.result()
    assert result.symbol == "AAPL" and result.analysis_id is not None
    assert result.chart.as_of <= result.completed_at.date()
    saved = await services.pool.fetchrow("SELECT * FROM analyses")
    assert saved["workflow_id"] == handle.id and saved["recommendation"] == result.recommendation
    assert AnalysisResult.model_validate(saved["result"]).recommendation == result.recommendation
    if result.chart.recommendation != "reject":
        note = await services.pool.fetchrow("SELECT * FROM notifications")
        assert note["status"] == "delivered" and "AAPL" in note["title"]
    description = await handle.describe()
    attributes = {key.name: value for key, value in description.typed_search_attributes}
    assert attributes["TtaiSymbol"] == "AAPL"
    assert attributes["TtaiRecommendation"] == result.recommendation
    listed = [
        wf.id
        async for wf in client.list_workflows(f"TtaiSymbol = 'AAPL' AND WorkflowId = '{handle.id}'")
    ]
    assert listed == [handle.id] or listed == []  # visibility is eventually consistent


class CrashAfterCommit(AnalysisActivities):
    """Commits its side effect, then fails the first attempt as if the worker
    died before reporting: Temporal retries, the side effect must stay single."""

    @same_step_as(AnalysisActivities.save_analysis)
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveResult:
        saved = await super().save_analysis(request)
        if activity.info().attempt == 1:
            raise ApplicationError("lost the reply after committing")
        return saved

    @same_step_as(AnalysisActivities.notify_analysis)
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        sent = await super().notify_analysis(request)
        if activity.info().attempt == 1:
            raise ApplicationError("lost the reply after sending")
        return sent


async def test_retried_save_and_notify_stay_single(
    client: Client, task_queue: str, services: Services
) -> None:
    flaky = CrashAfterCommit(services.broker, AnalysisStore(services.pool), services.outbox)
    activities = [
        *[
            a
            for a in build_activities(services)
            if not _named(a, "save_analysis", "notify_analysis")
        ],
        flaky.save_analysis,
        flaky.notify_analysis,
    ]
    symbol = await _symbol_that_passes_the_chart(services)
    async with build_worker(client, None, task_queue, activities=activities):
        handle = await start(client, task_queue, AnalysisInput(symbol=symbol))
        result = await handle.result()
    attempts = await _attempts(handle, "save_analysis", "notify_analysis")
    assert attempts == {"save_analysis": 2, "notify_analysis": 2}
    assert await rows(services.pool, "analyses") == 1
    assert await rows(services.pool, "notifications") == 1
    assert result.analysis_id == await services.pool.fetchval("SELECT id FROM analyses")


class GatedBroker:
    """Holds `get_option_chain` until released, to stop a worker mid-analysis."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.reached = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def get_option_chain(self, symbol: str) -> object:
        self.reached.set()
        await asyncio.Event().wait()  # until the worker is shut down
        raise AssertionError("unreachable")


async def test_worker_restart_mid_analysis_completes_once(
    client: Client, task_queue: str, services: Services
) -> None:
    symbol = await _symbol_that_passes_the_chart(services)
    gated = GatedBroker(services.broker)
    first = build_worker(
        client,
        Services(services.settings, services.pool, gated, services.outbox),  # type: ignore[arg-type]
        task_queue,
        graceful_shutdown_timeout=timedelta(0),
    )
    worker_run = asyncio.create_task(first.run())
    handle = await start(client, task_queue, AnalysisInput(symbol=symbol))
    await asyncio.wait_for(gated.reached.wait(), timeout=30)
    await first.shutdown()
    await worker_run
    async with build_worker(client, services, task_queue):
        result = await handle.result()
    assert result.options is not None
    attempts = await _attempts(handle, "chart_analysis", "options_analysis")
    assert attempts["chart_analysis"] == 1  # finished before the restart, not redone
    assert attempts["options_analysis"] == 2
    assert await rows(services.pool, "analyses") == 1


async def test_unknown_symbol_fails_without_writes(
    client: Client, task_queue: str, services: Services
) -> None:
    async with build_worker(client, services, task_queue):
        handle = await start(client, task_queue, AnalysisInput(symbol="ZZZZZ"))
        with pytest.raises(Exception, match="Workflow execution failed"):
            await handle.result()
    history = await handle.fetch_history()
    failures = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    assert len(failures) == 1  # non-retryable: one attempt
    message = failures[0].activity_task_failed_event_attributes.failure.message
    assert message == "unknown symbol: ZZZZZ"
    assert await rows(services.pool, "analyses") == 0


async def test_bare_temporal_cli_starts_an_analysis(
    dev_server: TemporalDevServer, client: Client, task_queue: str, services: Services
) -> None:
    """The README's command: plain JSON through the `temporal` CLI."""
    cli = Path(sys.executable).parent / "temporal"
    workflow_id = f"cli-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, services, task_queue):
        proc = await asyncio.create_subprocess_exec(
            str(cli), "workflow", "execute", "--address", dev_server.address,
            "--type", "AnalysisWorkflow", "--task-queue", task_queue,
            "--workflow-id", workflow_id, "--input", '{"symbol": "MSFT", "notify": false}',
            "--output", "json",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)["result"]
    assert result["symbol"] == "MSFT"
    assert result["recommendation"] in {"strong_select", "select", "watchlist", "reject"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "aapl"], "invalid symbol 'aapl'"),
        (["analyze", "AAPL;DROP"], "invalid symbol"),
        (["analyze", "AAPL", "--strategy", "straddle"], "strategy: Input should be 'csp'"),
    ],
)
def test_starter_rejects_bad_input_before_temporal(args: list[str], message: str) -> None:
    env = {"TEMPORAL_ADDRESS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "starter.py"), *args],
        capture_output=True, text=True, timeout=60, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid input:")
    assert message in lines[0]


def _named(fn: object, *names: str) -> bool:
    return getattr(fn, "__temporal_activity_definition").name in names


async def _attempts(handle: WorkflowHandle, *names: str) -> dict[str, int]:
    """How many attempts each activity took, from the workflow's history."""
    history = await handle.fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    attempts: dict[str, int] = {}
    for e in history.events:
        if e.HasField("activity_task_started_event_attributes"):
            name = scheduled[e.activity_task_started_event_attributes.scheduled_event_id]
            if name in names:
                attempts[name] = e.activity_task_started_event_attributes.attempt
    return attempts


async def _symbol_that_passes_the_chart(services: Services) -> str:
    """A well-known symbol whose simulated chart is not a reject today."""
    from ttai.domain.analytics.technicals import analyze_chart

    for symbol in ("AAPL", "MSFT", "KO", "JPM", "SPY", "QQQ", "XOM", "PFE", "AMD", "NVDA"):
        candles = await services.broker.get_daily_candles(symbol, 260)
        if analyze_chart(symbol, candles).recommendation != "reject":
            return symbol
    pytest.skip("every well-known simulated symbol is a chart reject today")
