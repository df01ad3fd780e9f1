"""Fresh databases for tests, copied from a migrated template (the `postgres` fixture).

A copy is a file copy inside PostgreSQL: fast enough to give every test its
own database.
"""

from __future__ import annotations

import uuid

import asyncpg

from ttai.db.provision import create_database, database_dsn, identifier


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        # FORCE ends sessions a test left open (PostgreSQL 13+).
        await conn.execute(f"DROP DATABASE IF EXISTS {identifier(name)} WITH (FORCE)")
    finally:
        await conn.close()


class DatabaseFactory:
    """Fresh databases copied from a migrated template.

    With `owner`, each copy belongs to that role and its DSN is `app_dsn`'s
    (the tests then run with the application's privileges, not a superuser's).
    """

    def __init__(
        self, admin_dsn: str, template: str, *, app_dsn: str | None = None, owner: str | None = None
    ) -> None:
        self.admin_dsn = admin_dsn
        self.template = template
        self.app_dsn = app_dsn or admin_dsn
        self.owner = owner

    async def create(self) -> tuple[str, str]:
        """A new database: (name, dsn)."""
        name = f"ttai_test_{uuid.uuid4().hex[:12]}"
        await create_database(self.admin_dsn, name, template=self.template, owner=self.owner)
        return name, database_dsn(self.app_dsn, name)

    async def drop(self, name: str) -> None:
        await drop_database(self.admin_dsn, name)
