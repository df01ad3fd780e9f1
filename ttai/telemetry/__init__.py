"""Metrics, tracing and structured logs for every TTAI process.

- Metrics (`metrics`): project counters (`count`) are recorded on Temporal's
  own metric meter, so they are served by the runtime's Prometheus endpoint
  next to the SDK's metrics (`worker_runtime`). Off unless `TTAI_METRICS=1` or
  `TTAI_METRICS_PORT` is set.
- Tracing (`tracing`): OpenTelemetry, configured from the standard `OTEL_*`
  environment variables; Temporal's `TracingInterceptor` carries one trace
  from the client through the workflow into every activity. Off by default.
- Logs (`logs`, `redaction`): one line per record (key=value, or JSON with
  `TTAI_LOG_FORMAT=json`) carrying the workflow and activity IDs, with every
  registered secret and URL credential redacted.
"""
