"""Metrics, tracing and structured logs for every TTAI process.

- Metrics: project counters (`count`) are recorded on Temporal's own metric
  meter, so they are served by the runtime's Prometheus endpoint next to the
  SDK's metrics (`worker_runtime`). Off unless `TTAI_METRICS=1` or
  `TTAI_METRICS_PORT` is set: several workers on one host would otherwise
  fight over one port.
- Tracing: OpenTelemetry, configured from the standard `OTEL_*` environment
  variables; Temporal's `TracingInterceptor` carries one trace from the client
  through the workflow into every activity. Off by default.
- Logs: one line per record (key=value, or JSON with `TTAI_LOG_FORMAT=json`)
  carrying the workflow and activity IDs, with secrets redacted.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg
import opentelemetry.trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

if TYPE_CHECKING:
    from ttai.config import Settings

_TRACER_NAME = "ttai"
T = TypeVar("T")

# Set by `worker_runtime` so counts made outside activities (e.g. by the
# notification dispatcher's own loop) reach the same Prometheus endpoint.
_process_meter: MetricMeter | None = None

# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def _current_meter() -> MetricMeter | None:
    if activity.in_activity():
        return activity.metric_meter()
    if workflow.in_workflow():
        # The workflow meter skips recording during replay, so counts stay exact.
        return workflow.metric_meter()
    return _process_meter


def count(name: str, value: int = 1, **attributes: str) -> None:
    """Add `value` to the project counter `name` (e.g. `ttai_analyses_total`).

    Inside an activity or workflow the counter carries Temporal's own labels
    (namespace, task queue, activity/workflow type). Outside them it uses the
    worker's runtime when one was made, and does nothing otherwise.
    """
    meter = _current_meter()
    if meter is None:
        return
    meter.create_counter(name).add(value, dict(attributes))


def metrics_bind_address(settings: Settings) -> str | None:
    """`host:port` for the Prometheus endpoint, or None when metrics are off."""
    if not settings.metrics_enabled:
        return None
    return f"{settings.metrics_host}:{settings.metrics_port}"


def worker_runtime(settings: Settings) -> Runtime:
    """A Temporal runtime serving Prometheus metrics when enabled, plain otherwise.

    Pass it to `ttai.temporal.client.connect(runtime=...)`; workers inherit the
    client's runtime. Raises RuntimeError when the metrics port is taken.
    """
    global _process_meter
    address = metrics_bind_address(settings)
    metrics = PrometheusConfig(bind_address=address) if address else None
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=metrics))
    except ValueError as err:  # the exporter could not bind
        raise RuntimeError(
            f"cannot serve metrics on {address}: {err}; set TTAI_METRICS_PORT to a free port"
        ) from err
    _process_meter = runtime.metric_meter if address else None
    return runtime


# --------------------------------------------------------------------------
# Tracing
# --------------------------------------------------------------------------


def _exporter_names() -> list[str]:
    names = [
        n.strip().lower()
        for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if n.strip()
    ]
    if not names and (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        # An OTLP endpoint on its own is a clear enough request for OTLP.
        names = ["otlp"]
    return [n for n in names if n != "none"]


def configure_tracing(service_name: str = "ttai") -> TracerProvider | None:
    """Install a global tracer provider as the `OTEL_*` variables ask; idempotent.

    `OTEL_TRACES_EXPORTER=otlp` (or an `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`)
    exports over OTLP/HTTP, `console` prints spans, unset or `none` is off.
    Returns the provider in use, or None when tracing is off.
    """
    current = opentelemetry.trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    names = _exporter_names()
    if not names:
        return None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        if name == "otlp":
            # Imported here: the OTLP exporter pulls in requests/protobuf.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported (otlp, console)")
    opentelemetry.trace.set_tracer_provider(provider)
    return provider


def client_interceptors() -> list[TracingInterceptor]:
    """Interceptors for every client; workers built on the client inherit them."""
    return [TracingInterceptor()]


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A child span around a broker or database call made from an activity.

    Not for workflow code: workflow spans come from the interceptor only.
    """
    tracer = opentelemetry.trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(name, attributes=attributes):
        yield


class _Traced:
    """Proxy running each coroutine method of `target` inside a span `<prefix>.<method>`."""

    def __init__(self, target: object, prefix: str) -> None:
        self._target = target
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            # No arguments on the span: they may hold account data.
            with span(f"{self._prefix}.{name}"):
                return await attr(*args, **kwargs)

        return call


def traced(target: T, prefix: str) -> T:
    """Wrap a service (broker, repository) so each awaited call is a child span.

    Wrap the opened object, not one still to be used with `async with`.
    """
    return cast(T, _Traced(target, prefix))


def _traced_query(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        # The SQL text only: parameters may hold account data.
        attributes = {"db.system": "postgresql", "db.statement": query[:1000]}
        with span(f"db.{method.__name__}", **attributes):
            return await method(self, query, *args, **kwargs)

    return call


class TracedConnection(asyncpg.Connection):
    """asyncpg connection whose queries are child spans (`db.fetch`, `db.execute` ...).

    `asyncpg.create_pool(..., connection_class=TracedConnection)`; pool-level
    calls go through these methods too.
    """

    execute = _traced_query(asyncpg.Connection.execute)
    executemany = _traced_query(asyncpg.Connection.executemany)
    fetch = _traced_query(asyncpg.Connection.fetch)
    fetchrow = _traced_query(asyncpg.Connection.fetchrow)
    fetchval = _traced_query(asyncpg.Connection.fetchval)


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------

_SECRET_ENV_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEY|ENCRYPTION_KEYS|REFRESH")
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",\s]+"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)['\"]?\s*[:=]\s*['\"]?)[^'\",\s]+"),
    # Credentials inside URLs, e.g. postgresql://user:pw@host or tgram://token@...
    re.compile(r"(://[^:/@\s]*:)[^@\s]+(?=@)"),
]
_REDACTED = "[REDACTED]"
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class Redactor:
    """Removes bearer tokens, `key=value` secrets and configured secret values."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        env = os.environ if secrets is None else secrets
        values: set[str] = set()
        for name, value in env.items():
            if _SECRET_ENV_NAME.search(name.upper()) and value:
                # A key list like "k1:AAA,k2:BBB" leaks through its parts too.
                values.update(p for p in re.split(r"[,:\s]+", value) if len(p) >= 8)
                values.add(value)
        self._values = sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, _REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + _REDACTED, text)
        return text


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    """workflow_id / activity_id etc. from Temporal's logger extras or the context."""
    fields: dict[str, Any] = {}
    for key in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, key, None)
        if isinstance(details, Mapping):
            fields.update(details)
    if not fields and activity.in_activity():
        # Plain loggers (broker, database) called from an activity.
        info = activity.info()
        fields = {
            "workflow_id": info.workflow_id,
            "activity_id": info.activity_id,
            "activity_type": info.activity_type,
            "attempt": info.attempt,
        }
    keep = ("workflow_id", "run_id", "workflow_run_id", "workflow_type")
    keep += ("activity_id", "activity_type", "attempt", "update_id")
    return {k: fields[k] for k in keep if fields.get(k) is not None}


class StructuredFormatter(logging.Formatter):
    """One line per record: `key=value` pairs, or a JSON object; secrets redacted."""

    converter = time.gmtime  # timestamps in UTC, marked with Z

    def __init__(self, *, as_json: bool = False, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._as_json = as_json
        self._redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(_temporal_context(record))
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith(("temporal_", "_")):
                fields.setdefault(key, value)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self._as_json:
            line = json.dumps(fields, default=str)
        else:
            line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        return self._redactor.redact(line)


def _kv(value: Any) -> str:
    text = str(value)
    if text and not re.search(r"[\s\"=]", text):
        return text
    return json.dumps(text)


def configure_logging(level: str | None = None, *, as_json: bool | None = None) -> None:
    """Structured one-line logs on stderr for the whole process.

    `TTAI_LOG_LEVEL` (default INFO) and `TTAI_LOG_FORMAT` (`kv` or `json`)
    choose the defaults.
    """
    level = level or os.environ.get("TTAI_LOG_LEVEL", "INFO")
    if as_json is None:
        as_json = os.environ.get("TTAI_LOG_FORMAT", "kv").lower() == "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(as_json=as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The IDs are separate fields now; don't repeat them inside every message.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
    # The tastytrade SDK logs bearer tokens at DEBUG.
    logging.getLogger("tastytrade").setLevel(max(logging.INFO, root.level))
