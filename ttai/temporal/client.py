"""The one place clients are made: worker, starter, bootstrap, tests and other apps.

Connection settings come from `temporalio.envconfig` (a TOML profile and the
`TEMPORAL_*` environment variables: address, namespace, TLS certificates, API
key), so the same code reaches the local dev server, a self-hosted cluster or
Temporal Cloud.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from ttai.config import Settings
from ttai.telemetry.tracing import client_interceptors, configure_tracing
from ttai.temporal.codec import codec_from_env


def data_converter() -> DataConverter:
    """The pydantic converter, so plain JSON from any SDK or the CLI decodes.

    With `TTAI_ENCRYPTION_KEYS` set, payloads and failure messages are also
    AES-GCM encrypted (see `ttai.temporal.codec`); the codec server decodes them for the UI.
    """
    codec = codec_from_env()
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: Settings | None = None,
    *,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """Connect with tracing on (a no-op unless `OTEL_*` asks for an exporter).

    Workers inherit the client's interceptors and runtime: give a worker the
    runtime from `ttai.telemetry.metrics.worker_runtime` to serve its metrics.
    """
    settings = settings or Settings.from_env()
    configure_tracing()
    config = ClientConfig.load_client_connect_config()
    if not settings.use_remote_temporal:
        config["target_host"] = settings.temporal_address
    config.setdefault("namespace", settings.namespace)
    return await Client.connect(
        **config,
        data_converter=data_converter(),
        interceptors=[*client_interceptors(), *interceptors],
        runtime=runtime,
    )
