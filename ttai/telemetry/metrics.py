"""Project counters on Temporal's own metric meter (Prometheus, next to the SDK's metrics).

Off unless `TTAI_METRICS=1` or `TTAI_METRICS_PORT` is set: several workers on
one host would otherwise fight over one port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

if TYPE_CHECKING:
    from ttai.config import Settings


# Set by `worker_runtime` so counts made outside activities (e.g. by the
# notification dispatcher's own loop) reach the same Prometheus endpoint.
_process_meter: MetricMeter | None = None


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
