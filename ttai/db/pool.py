"""asyncpg pools that read and write json/jsonb columns as Python values."""

from __future__ import annotations

import json

import asyncpg

from ttai.telemetry.redaction import register_url_password
from ttai.telemetry.tracing import TracedConnection


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb to Python values and encode Python values to JSON text."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    register_url_password(dsn)  # wherever the DSN came from, its password is not logged
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        # Each query a child span of the activity that made it (SQL text only).
        connection_class=TracedConnection,
    )
