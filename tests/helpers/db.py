"""Fresh databases for tests, copied from a migrated template (the `postgres` fixture).

A copy is a file copy inside PostgreSQL: fast enough to give every test its
own database.
"""

from __future__ import annotations

import uuid

import asyncpg

from ttai.stack.postgres import create_database, quote_identifier


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        # FORCE ends sessions a test left open (PostgreSQL 13+).
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_identifier(name)} WITH (FORCE)")
    finally:
        await conn.close()


class DatabaseFactory:
    """Fresh databases copied from a migrated template."""

    def __init__(self, admin_dsn: str, template: str) -> None:
        self.admin_dsn = admin_dsn
        self.template = template

    async def create(self) -> tuple[str, str]:
        """A new database: (name, dsn)."""
        name = f"ttai_test_{uuid.uuid4().hex[:12]}"
        return name, await create_database(self.admin_dsn, name, template=self.template)

    async def drop(self, name: str) -> None:
        await drop_database(self.admin_dsn, name)
