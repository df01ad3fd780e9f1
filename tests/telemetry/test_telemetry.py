"""Tracing across client -> workflow -> activity -> broker span, Prometheus
counters next to Temporal's metrics, and structured, redacted logs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta

import aiohttp
import opentelemetry.trace
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    # asyncpg too: re-imported inside the sandbox, its C extension's state is
    # clobbered and a later connect crashes the interpreter.
    import asyncpg

    from tests.helpers.local_http import serving_posts
    from tests.helpers.waiting import eventually
    from ttai.config import PROJECT_ROOT, Settings
    from ttai.loopback import free_port
    from ttai.models.common import Model
    from ttai.servers.temporal_server import TemporalDevServer
    from ttai.telemetry import metrics, tracing
    from ttai.telemetry.logs import StructuredFormatter
    from ttai.telemetry.metrics import count, metrics_bind_address, worker_runtime
    from ttai.telemetry.redaction import Redactor
    from ttai.telemetry.tracing import TracedConnection, span, traced
    from ttai.temporal.client import connect


class ProbeInput(Model):
    symbol: str


class ProbeResult(Model):
    symbol: str


class FakeBroker:
    async def get_quotes(self, symbols: list[str]) -> list[str]:
        return symbols

    def name(self) -> str:
        return "fake"


@activity.defn
async def probe_quotes(request: ProbeInput) -> ProbeResult:
    broker = traced(FakeBroker(), "broker")
    [symbol] = await broker.get_quotes([request.symbol])
    assert broker.name() == "fake"  # plain methods pass through untouched
    with span("db.save_analysis", symbol=symbol):
        count("ttai_analyses_total", 2, recommendation="buy")
        count("ttai_broker_errors_total", kind="timeout")
    return ProbeResult(symbol=symbol)


@workflow.defn
class TelemetryProbeWorkflow:
    @workflow.run
    async def run(self, request: ProbeInput) -> ProbeResult:
        count("ttai_alerts_fired_total")
        return await workflow.execute_activity(
            probe_quotes, request, start_to_close_timeout=timedelta(seconds=30)
        )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter on the process's SDK tracer provider (set once per process)."""
    provider = opentelemetry.trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        opentelemetry.trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # stops collecting for later tests


async def _run_probe(settings: Settings, task_queue: str, workflow_id: str, **kw: object) -> None:
    client = await connect(settings, **kw)  # type: ignore[arg-type]
    async with Worker(
        client, task_queue=task_queue, workflows=[TelemetryProbeWorkflow], activities=[probe_quotes]
    ):
        result = await client.execute_workflow(
            TelemetryProbeWorkflow.run,
            ProbeInput(symbol="AAPL"),
            id=workflow_id,
            task_queue=task_queue,
        )
    assert result == ProbeResult(symbol="AAPL")


async def test_one_trace_from_client_through_workflow_to_broker_span(
    dev_server: TemporalDevServer, task_queue: str, spans: InMemorySpanExporter
) -> None:
    workflow_id = f"trace-{uuid.uuid4()}"
    await _run_probe(Settings(temporal_address=dev_server.address), task_queue, workflow_id)

    finished = spans.get_finished_spans()
    start = next(
        s
        for s in finished
        if s.name == "StartWorkflow:TelemetryProbeWorkflow"
        and (s.attributes or {}).get("temporalWorkflowID") == workflow_id
    )
    trace = [s for s in finished if s.context.trace_id == start.context.trace_id]
    by_name: dict[str, ReadableSpan] = {s.name: s for s in trace}
    # The legacy interceptor's workflow spans are zero-length siblings under
    # the client's start span; activity spans nest below StartActivity.
    parents = {
        "RunWorkflow:TelemetryProbeWorkflow": "StartWorkflow:TelemetryProbeWorkflow",
        "StartActivity:probe_quotes": "StartWorkflow:TelemetryProbeWorkflow",
        "RunActivity:probe_quotes": "StartActivity:probe_quotes",
        "broker.get_quotes": "RunActivity:probe_quotes",
        "db.save_analysis": "RunActivity:probe_quotes",
    }
    assert set(parents) <= set(by_name), sorted(by_name)
    for child, parent in parents.items():
        child_parent = by_name[child].parent
        assert child_parent is not None, child
        assert child_parent.span_id == by_name[parent].context.span_id, child
    assert (by_name["db.save_analysis"].attributes or {}).get("symbol") == "AAPL"


def _samples(text: str, name: str) -> dict[str, float]:
    """Prometheus text -> {label set: value} for one metric name."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line.rpartition(" ")
            found[labels[len(name) :]] = float(value)
    return found


async def test_prometheus_endpoint_serves_project_counters(
    dev_server: TemporalDevServer, task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_process_meter", None)  # restored after the test
    port = free_port()
    settings = Settings(
        temporal_address=dev_server.address, metrics_enabled=True, metrics_port=port
    )
    runtime = worker_runtime(settings)
    await _run_probe(settings, task_queue, f"metrics-{uuid.uuid4()}", runtime=runtime)
    count("ttai_notifications_total", outcome="failed")  # outside any activity

    async with aiohttp.ClientSession() as http:

        async def scraped() -> str:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                return await response.text()

        text = await eventually(  # the exporter may publish a moment after the activity
            scraped,
            what="the project's counters on /metrics",
            until=lambda page: "ttai_notifications_total{" in page,
            within=30,
            every=0.1,
        )

    analyses = _samples(text, "ttai_analyses_total")
    [(labels, value)] = analyses.items()
    assert 'recommendation="buy"' in labels
    assert 'activity_type="probe_quotes"' in labels
    assert f'task_queue="{task_queue}"' in labels
    assert value == 2
    assert any('kind="timeout"' in k for k in _samples(text, "ttai_broker_errors_total"))
    assert any(
        'workflow_type="TelemetryProbeWorkflow"' in k
        for k in _samples(text, "ttai_alerts_fired_total")
    )
    assert any('outcome="failed"' in k for k in _samples(text, "ttai_notifications_total"))
    # Temporal's own metrics are on the same endpoint.
    assert "temporal_activity_execution_latency" in text


def test_metrics_off_by_default_and_count_is_harmless_without_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TTAI_METRICS", raising=False)
    monkeypatch.delenv("TTAI_METRICS_PORT", raising=False)
    monkeypatch.setattr(metrics, "_process_meter", None)
    assert metrics_bind_address(Settings.from_env()) is None
    monkeypatch.setenv("TTAI_METRICS_PORT", "9999")
    assert metrics_bind_address(Settings.from_env()) == "127.0.0.1:9999"
    count("ttai_analyses_total", recommendation="skip")  # no runtime: no-op


def test_taken_metrics_port_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_process_meter", None)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(metrics_enabled=True, metrics_port=port)
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}.*TTAI_METRICS_PORT"):
            worker_runtime(settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
    ],
)
def test_tracing_follows_otel_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing._exporter_names() == expected


async def test_otlp_export_to_the_configured_endpoint() -> None:
    """A process with only OTEL_EXPORTER_OTLP_ENDPOINT set ships its spans there."""
    received: list[bytes] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response()

    script = (
        "from ttai.telemetry.tracing import configure_tracing, span\n"
        "assert configure_tracing() is not None\n"
        "with span('otlp.probe', symbol='MSFT'):\n"
        "    pass\n"
    )
    async with serving_posts("/v1/traces", collect) as port:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_SERVICE_NAME="ttai-otlp-probe",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, cwd=PROJECT_ROOT, env=env
        )
        assert await process.wait() == 0
    body = b"".join(received)  # OTLP protobuf: names and strings appear verbatim
    assert b"otlp.probe" in body
    assert b"ttai-otlp-probe" in body


def _format(record: logging.LogRecord, *, as_json: bool = False, **secrets: str) -> str:
    formatter = StructuredFormatter(as_json=as_json, redactor=Redactor(secrets))
    return formatter.format(record)


def test_log_lines_carry_temporal_ids_from_sdk_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "temporalio.activity",
            "levelname": "INFO",
            "msg": "fetched %d quotes",
            "args": (3,),
            "temporal_activity": {
                "activity_id": "7",
                "activity_type": "fetch_quotes",
                "workflow_id": "analysis-AAPL-1",
                "workflow_run_id": "run-1",
                "namespace": "default",
            },
        }
    )
    line = _format(record)
    assert "\n" not in line
    assert "workflow_id=analysis-AAPL-1" in line
    assert "activity_id=7" in line
    assert 'msg="fetched 3 quotes"' in line
    parsed = json.loads(_format(record, as_json=True))
    assert parsed["workflow_id"] == "analysis-AAPL-1"
    assert parsed["activity_type"] == "fetch_quotes"
    assert parsed["msg"] == "fetched 3 quotes"


async def test_plain_loggers_inside_activities_get_ids() -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            record.formatted = _format(record)  # formatted inside the activity context

    logger = logging.getLogger("ttai.test.broker")
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)

    @activity.defn
    async def uses_plain_logger() -> None:
        logger.info("quote request sent")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="screen-42", activity_id="3")
    await env.run(uses_plain_logger)
    [record] = records
    assert "workflow_id=screen-42" in record.formatted  # type: ignore[attr-defined]
    assert "activity_id=3" in record.formatted  # type: ignore[attr-defined]


def test_secrets_are_redacted_from_log_lines() -> None:
    token = "Zx9-codec-token-very-secret"
    key_b64 = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
    record = logging.makeLogRecord(
        {
            "name": "ttai.broker",
            "levelname": "WARNING",
            "msg": "failed: Authorization: Bearer eyJhbGciOi.abc.def token=%s key %s url %s",
            "args": (token, key_b64, "postgresql://ttai:hunter22@db:5432/ttai"),
        }
    )
    line = _format(
        record, TTAI_CODEC_TOKEN=token, TTAI_ENCRYPTION_KEYS=f"k1:{key_b64}", HOME="/root"
    )
    for secret in ("eyJhbGciOi", token, key_b64, "hunter22"):
        assert secret not in line
    assert "[REDACTED]" in line
    assert "db:5432" in line  # the rest of the message survives


async def test_database_queries_are_child_spans_without_parameters(
    database_url: str, spans: InMemorySpanExporter
) -> None:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, connection_class=TracedConnection
    )
    try:
        with span("activity-like parent"):
            value = await pool.fetchval("SELECT $1::text || '-ok'", "ACCT-99887766")
            async with pool.acquire() as conn:
                await conn.execute("SELECT 1")
    finally:
        await pool.close()
    assert value == "ACCT-99887766-ok"

    finished = spans.get_finished_spans()
    [parent] = [s for s in finished if s.name == "activity-like parent"]
    for name, statement in (("db.fetchval", "SELECT $1::text"), ("db.execute", "SELECT 1")):
        [child] = [
            s
            for s in finished
            if s.name == name
            and str((s.attributes or {}).get("db.statement")).startswith(statement)
        ]
        assert child.parent is not None
        assert child.parent.span_id == parent.context.span_id
        assert "ACCT-99887766" not in str(dict(child.attributes or {}))
