"""The composition root: the services a worker's activities share.

The worker builds real ones; tests build the same object around fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ttai.broker.base import Broker
from ttai.broker.boundary import guarded
from ttai.broker.factory import open_broker
from ttai.config import Settings
from ttai.db.migrate import migrate
from ttai.db.pool import create_pool
from ttai.notify.channels import channel_key, channels_from_urls
from ttai.notify.outbox import Outbox
from ttai.telemetry.tracing import traced


@dataclass(frozen=True)
class Services:
    """`broker` is always behind the broker boundary (`ttai.broker.boundary`): a data
    error escaping a broker call is a `BrokerSchemaError`, however `Services` was built."""

    settings: Settings
    pool: asyncpg.Pool
    broker: Broker
    outbox: Outbox

    def __post_init__(self) -> None:
        object.__setattr__(self, "broker", guarded(self.broker))


@asynccontextmanager
async def open_services(
    settings: Settings, dsn: str, *, broker: Broker | None = None
) -> AsyncIterator[Services]:
    """Pool (migrated), broker (tastytrade when configured, else simulated) and outbox."""
    # The key is needed (and made, the first time) only for channels to send to.
    key = channel_key(settings) if settings.notify_urls else b""
    channels = channels_from_urls(settings.notify_urls, key=key)
    pool = await create_pool(dsn, max_size=20)
    try:
        await migrate(pool)
        outbox = Outbox(pool, channels)
        await outbox.adopt_channel_ids()
        own_broker = broker is None
        broker = broker or await open_broker(settings, pool)
        traced_broker = traced(broker, "broker")
        try:
            yield Services(settings=settings, pool=pool, broker=traced_broker, outbox=outbox)
        finally:
            if own_broker:
                await broker.close()
    finally:
        await pool.close()
