"""OpenTelemetry tracing, configured from the standard `OTEL_*` environment variables.

Temporal's `TracingInterceptor` carries one trace from the client through the
workflow into every activity; broker and database calls made from activities
are child spans. Off by default.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import asyncpg
import opentelemetry.trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from temporalio.contrib.opentelemetry import TracingInterceptor

_TRACER_NAME = "ttai"
T = TypeVar("T")


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
